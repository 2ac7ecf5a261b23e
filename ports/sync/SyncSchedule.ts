import type { Effect } from "effect"
import { Context } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { Priority } from "../../domain/sync/SyncJob.ts"

export interface DueConnection {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
}

export interface TakenRequest extends DueConnection {
  readonly entityType: EntityType
  readonly source: string
}

export interface JobToRequeue {
  readonly tenantId: TenantId
  readonly jobId: string
  readonly priority: Priority
  readonly status: "queued" | "running"
}

/**
 * What is due across every tenant, each handed to exactly one caller: periodic syncs (a newly connected connection
 * is due at once), webhook-requested syncs, and jobs whose queue message may be lost or whose worker stopped.
 */
export class SyncSchedule extends Context.Service<
  SyncSchedule,
  {
    readonly claimDue: (
      intervalMillis: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<DueConnection>, StoreUnavailable>
    readonly takeRequests: (limit: number) => Effect.Effect<ReadonlyArray<TakenRequest>, StoreUnavailable>
    /** Connections connected again whose jobs were paused for reauthorization. */
    readonly reconnected: (limit: number) => Effect.Effect<ReadonlyArray<DueConnection>, StoreUnavailable>
    readonly jobsToRequeue: (
      staleMillis: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<JobToRequeue>, StoreUnavailable>
  }
>()("integration-service/ports/sync/SyncSchedule") {}
