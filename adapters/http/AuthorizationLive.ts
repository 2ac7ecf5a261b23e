import { Effect, Layer, Redacted } from "effect"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { Unauthorized } from "./ApiErrors.ts"
import { Authorization, CurrentPrincipal } from "./Authorization.ts"

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function* () {
    const verifier = yield* TokenVerifier
    return Authorization.of({
      bearer: Effect.fn("Authorization.bearer")(function* (httpEffect, { credential }) {
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
        return yield* Effect.provideService(httpEffect, CurrentPrincipal, principal)
      })
    })
  })
)
