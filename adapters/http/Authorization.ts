import { Context } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import type { Principal } from "../../domain/Principal.ts"
import { Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized } from "./ApiErrors.ts"

export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()(
  "integration-service/http/CurrentPrincipal"
) {}

/**
 * The least an endpoint asks of the caller's role, checked with the token, before the body is read: `manage` is
 * `admin` or `venue_admin` (which venue is the use case's question), `admin` only admins.
 */
export const RoleRequirement = Context.Reference<"any" | "manage" | "admin">(
  "integration-service/http/RoleRequirement",
  { defaultValue: () => "any" }
)

/**
 * Bearer JWT authentication, then the tenant's rate limit, the endpoint's role requirement and the body's declared
 * length; its implementation lives in AuthorizationLive.ts.
 */
export class Authorization extends HttpApiMiddleware.Service<
  Authorization,
  { provides: CurrentPrincipal; requires: never }
>()("integration-service/http/Authorization", {
  security: { bearer: HttpApiSecurity.bearer },
  error: [Unauthorized, Forbidden, PayloadTooLarge, TooManyRequests]
}) {}
