import { Context, type Effect } from "effect"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { Activity, Granularity } from "../../domain/operations/MetricsReport.ts"

export interface ActivityQuery {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly from: Date
  readonly to: Date
  /** `hour` reads the hourly rollup, `day` the daily one; buckets start at UTC hour or day boundaries. */
  readonly granularity: Granularity
}

/** What one connection did over a range, per bucket: the ledger's calls, its sync jobs and its webhook events. */
export class ConnectionActivity extends Context.Service<
  ConnectionActivity,
  {
    readonly read: (query: ActivityQuery) => Effect.Effect<Activity, StoreUnavailable>
  }
>()("integration-service/ports/operations/ConnectionActivity") {}
