import type { Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"

/** Whether the database answers, for readiness and the deep health check. */
export class StoreHealth extends Context.Service<
  StoreHealth,
  { readonly ping: Effect.Effect<void, StoreUnavailable> }
>()("integration-service/ports/StoreHealth") {}
