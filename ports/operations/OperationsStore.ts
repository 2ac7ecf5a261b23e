import type { Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { TenantId } from "../../domain/Ids.ts"
import type { CostGroup, CostRange } from "../../domain/operations/CostRange.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { JobStatus, Priority } from "../../domain/sync/SyncJob.ts"

/** Whose rows a read sees: one tenant's (under row-level security), or every tenant's (the operator's path). */
export type OpsScope = { readonly _tag: "tenant"; readonly tenantId: TenantId } | { readonly _tag: "all" }

export interface VenueRow {
  readonly tenantId: TenantId
  readonly connectionId: string
  readonly venueId: string
  readonly provider: Provider
  readonly status: string
  readonly healthStatus: string
  readonly lastError: string | null
  readonly lastCheckAt: Date | null
  readonly updatedAt: Date
}

export interface VenueFilter {
  readonly provider?: Provider | undefined
  readonly status?: string | undefined
  readonly healthStatus?: string | undefined
  readonly after?: { readonly tenantId: string; readonly connectionId: string } | undefined
  readonly limit: number
}

export interface JobRef {
  readonly tenantId: TenantId
  readonly id: string
  readonly connectionId: string
  readonly provider: Provider
  readonly status: string
  readonly priority: Priority
}

export interface JobFilter {
  readonly statuses: ReadonlyArray<string>
  readonly provider?: Provider | undefined
  readonly priority?: Priority | undefined
  readonly createdBefore?: Date | undefined
  /** Only running jobs whose heartbeat is older than this. */
  readonly staleMillis?: number | undefined
  readonly limit: number
}

export interface DeadLetterRow {
  readonly kind: "sync" | "webhook"
  readonly tenantId: TenantId
  readonly id: string
  readonly provider: Provider
  readonly reason: string
  readonly failedAt: Date
  readonly review: { readonly note: string; readonly by: string; readonly at: Date } | null
}

/** Costs of one group over a range: `key` is the tenant or venue id, the provider or the `YYYY-MM-DD` day. */
export interface CostRow {
  readonly key: string
  /** The group's tenant when grouping by tenant or venue, else null. */
  readonly tenantId: TenantId | null
  readonly apiCalls: number
  /** Calls the provider meters against a quota (QuickBooks CorePlus). */
  readonly quotaCalls: number
  readonly workerMillis: number
  /** Calls and worker time priced, in millionths of a dollar. */
  readonly costMicros: number
}

export interface OperatorAction {
  readonly actor: string
  readonly actorRole: string
  readonly actorTenant: TenantId
  /** The tenant acted on; null when the action spans every tenant. */
  readonly scopeTenant: TenantId | null
  readonly action: string
  readonly request: unknown
  readonly result: unknown
}

/**
 * What the admin and monitoring routes read across connections, jobs and dead letters, per scope; and the few
 * writes they make, always inside one tenant.
 */
export class OperationsStore extends Context.Service<
  OperationsStore,
  {
    readonly venues: (scope: OpsScope, filter: VenueFilter) => Effect.Effect<ReadonlyArray<VenueRow>, StoreUnavailable>
    readonly healthSummary: (scope: OpsScope) => Effect.Effect<
      ReadonlyArray<{
        readonly provider: Provider
        readonly status: string
        readonly healthStatus: string
        readonly connections: number
      }>,
      StoreUnavailable
    >
    readonly jobs: (scope: OpsScope, filter: JobFilter) => Effect.Effect<ReadonlyArray<JobRef>, StoreUnavailable>
    readonly webhookDead: (
      scope: OpsScope,
      filter: { readonly provider?: Provider | undefined; readonly before?: Date | undefined; readonly limit: number }
    ) => Effect.Effect<
      ReadonlyArray<{ readonly tenantId: TenantId; readonly id: string; readonly provider: Provider }>,
      StoreUnavailable
    >
    readonly queueDepth: (scope: OpsScope) => Effect.Effect<
      ReadonlyArray<{
        readonly priority: Priority
        readonly status: JobStatus
        readonly depth: number
        readonly oldestAt: Date
      }>,
      StoreUnavailable
    >
    readonly throughput: (
      scope: OpsScope,
      since: Date
    ) => Effect.Effect<
      {
        readonly jobsFinished: number
        readonly recordsFetched: number
        readonly syncDead: number
        readonly webhookDead: number
      },
      StoreUnavailable
    >
    readonly costs: (
      scope: OpsScope,
      range: CostRange,
      groupBy: CostGroup
    ) => Effect.Effect<ReadonlyArray<CostRow>, StoreUnavailable>
    readonly deadLetters: (
      scope: OpsScope,
      limit: number
    ) => Effect.Effect<ReadonlyArray<DeadLetterRow>, StoreUnavailable>
    /** Queued, failed, dead or paused jobs of the tenant become cancelled; answers how many did. */
    readonly cancelJobs: (tenantId: TenantId, ids: ReadonlyArray<string>) => Effect.Effect<number, StoreUnavailable>
    /** Dead webhook events of the tenant become `ignored`, with why; answers how many did. */
    readonly discardWebhooks: (
      tenantId: TenantId,
      ids: ReadonlyArray<string>,
      by: string
    ) => Effect.Effect<number, StoreUnavailable>
    /** Marks a dead letter for review; false when the tenant has no such dead letter. */
    readonly review: (
      tenantId: TenantId,
      kind: "sync" | "webhook",
      id: string,
      note: string,
      by: string
    ) => Effect.Effect<boolean, StoreUnavailable>
    readonly recordAction: (action: OperatorAction) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/operations/OperationsStore") {}
