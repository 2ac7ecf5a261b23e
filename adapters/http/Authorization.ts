import { Context } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import type { Principal } from "../../domain/Principal.ts"
import { Unauthorized } from "./ApiErrors.ts"

export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()(
  "integration-service/http/CurrentPrincipal"
) {}

/** Bearer JWT authentication; its implementation lives in AuthorizationLive.ts. */
export class Authorization extends HttpApiMiddleware.Service<
  Authorization,
  { provides: CurrentPrincipal; requires: never }
>()("integration-service/http/Authorization", { security: { bearer: HttpApiSecurity.bearer }, error: Unauthorized }) {}
