import { Context, Effect, Layer, Redacted } from "effect"
import type { Principal } from "../../domain/Principal.ts"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { Forbidden, Unauthorized } from "./ApiErrors.ts"
import { ApiRateLimit } from "./ApiRateLimit.ts"
import { Authorization, CurrentPrincipal, RoleRequirement } from "./Authorization.ts"
import { overflowAsPayloadTooLarge, refuseDeclaredOversize } from "./BodyLimit.ts"

const requireRole = (principal: Principal, requirement: typeof RoleRequirement.Service) => {
  const allowed =
    requirement === "any" ||
    principal.role === "admin" ||
    (requirement === "manage" && principal.role === "venue_admin")
  return allowed
    ? Effect.void
    : Effect.fail(
        new Forbidden({
          code: "Forbidden",
          message:
            requirement === "admin"
              ? `role ${principal.role} may not use this endpoint; it is for admins`
              : `role ${principal.role} may not change integrations`,
          field: "role"
        })
      )
}

/**
 * Everything decided from the request line and headers, before the body is read (HttpApi decodes the payload
 * inside this middleware): who is calling, whether the tenant is within its rate limit, whether the role may use
 * the endpoint at all, and whether the declared body fits.
 */
export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function* () {
    const verifier = yield* TokenVerifier
    const rateLimit = yield* ApiRateLimit
    return Authorization.of({
      bearer: Effect.fn("Authorization.bearer")(function* (httpEffect, { credential, endpoint }) {
        if (Redacted.value(credential).trim() === "") {
          return yield* new Unauthorized({
            code: "MissingToken",
            message: "send a bearer token: Authorization: Bearer <jwt>",
            field: "authorization"
          })
        }
        const principal = yield* verifier
          .verify(credential)
          .pipe(
            Effect.mapError(
              (e) => new Unauthorized({ code: "InvalidToken", message: e.message, field: "authorization" })
            )
          )
        yield* Effect.annotateCurrentSpan({ "enduser.id": principal.userId, "tenant.id": principal.tenantId })
        yield* rateLimit.admit(principal.tenantId)
        yield* requireRole(principal, Context.get(endpoint.annotations, RoleRequirement))
        yield* refuseDeclaredOversize
        return yield* Effect.provideService(httpEffect, CurrentPrincipal, principal).pipe(overflowAsPayloadTooLarge)
      })
    })
  })
)
