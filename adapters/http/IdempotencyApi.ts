import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { TenantId } from "../../domain/Ids.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * Idempotency at work. `keysHeld` is the caller's tenant's unexpired `Idempotency-Key`s; the counters are this
 * process's since it started, over every tenant (Prometheus has them too, summed across processes).
 */
export const IdempotencyReport = Schema.Struct({
  tenantId: TenantId,
  api: Schema.Struct({
    /** Repeats answered with the first answer (`Idempotent-Replayed: true`). */
    replays: Count,
    /** Keys refused: reused with another request (422) or repeated while the first ran (409). */
    conflicts: Count,
    keysHeld: Count
  }),
  /** Provider deliveries whose every event was already stored. */
  webhooks: Schema.Struct({ duplicatesCaught: Count }),
  /** Sync requests answered with the job their key named or the waiting job they joined. */
  sync: Schema.Struct({ idempotencyHits: Count })
}).annotate({ identifier: "IdempotencyReport" })

export class IdempotencyMonitoringGroup extends HttpApiGroup.make("idempotencyMonitoring")
  .add(
    HttpApiEndpoint.get("idempotency", "/idempotency", { success: IdempotencyReport, error: ApiErrors }).annotate(
      RoleRequirement,
      "admin"
    )
  )
  .middleware(Authorization)
  .prefix("/monitoring") {}
