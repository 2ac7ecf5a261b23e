import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { idempotencyCounts } from "../../application/IdempotencyMetrics.ts"
import { ApiIdempotency } from "../../ports/ApiIdempotency.ts"
import { Api } from "./Api.ts"
import { Forbidden, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

/** `GET /monitoring/idempotency`: a tenant's admin sees its own tenant's keys. */
export const IdempotencyHttp = HttpApiBuilder.group(
  Api,
  "idempotencyMonitoring",
  Effect.fn(function* (handlers) {
    const keys = yield* ApiIdempotency
    return handlers.handle("idempotency", () =>
      Effect.gen(function* () {
        const principal = yield* CurrentPrincipal
        if (principal.role !== "admin") {
          return yield* new Forbidden({
            code: "Forbidden",
            message: "idempotency figures are for admins",
            field: "role"
          })
        }
        const keysHeld = yield* keys.keysHeld(principal.tenantId).pipe(Effect.mapError(toHttpError))
        const counts = yield* idempotencyCounts
        return {
          tenantId: principal.tenantId,
          api: { replays: counts.replays, conflicts: counts.conflicts, keysHeld },
          webhooks: { duplicatesCaught: counts.webhookDuplicates },
          sync: { idempotencyHits: counts.syncHits }
        }
      })
    )
  })
)
