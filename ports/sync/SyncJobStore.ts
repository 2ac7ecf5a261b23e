import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { JobMode, JobStatus, Priority, SyncJob } from "../../domain/sync/SyncJob.ts"

export interface JobRequest {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly venueId: VenueId
  readonly provider: Provider
  readonly entityType: EntityType
  readonly direction: "inbound" | "outbound"
  readonly mode: JobMode
  readonly priority: Priority
  readonly idempotencyKey: string
  readonly requestedBy: string
}

/** What `request` did: a new job, the one the key already named, or the waiting job this request joined. */
export type Requested =
  | { readonly _tag: "created"; readonly job: SyncJob }
  | { readonly _tag: "existing"; readonly job: SyncJob }
  | { readonly _tag: "coalesced"; readonly job: SyncJob }

/** Why a worker may not run a job now. */
export type ClaimRefusal =
  /** Finished, cancelled, paused, or running under a live claim: the message is spent. */
  | "not_runnable"
  /** Another job of the same connection × entity is running: try again a little later. */
  | "busy"
  /** Not due yet (`run_after`): try again then. */
  | "not_due"

export class LostClaim extends Schema.TaggedError<LostClaim>()("LostClaim", {
  jobId: Schema.String
}) {}

export interface Finish {
  readonly status: Extract<JobStatus, "completed" | "failed" | "paused" | "dead" | "queued">
  readonly error: string | null
  /** `queued`: when it may run again (breaker open, rate limited, busy). */
  readonly runAfter?: Date | undefined
  /** `paused` because the credential was refused: resumes once the venue reconnects. */
  readonly awaitingReauth?: boolean | undefined
  /**
   * The run failed (the provider stayed unavailable through retries): it counts toward the job's attempts. Runs
   * delayed by an open breaker, a 429 storm or a busy entity do not; nor does the first run.
   */
  readonly failedRun?: boolean | undefined
}

export interface HistoryQuery {
  readonly status: Option.Option<JobStatus>
  readonly entityType: Option.Option<EntityType>
  readonly before: Option.Option<{ readonly createdAt: Date; readonly id: string }>
  readonly limit: number
}

export interface JobLog {
  readonly level: "info" | "warn" | "error"
  readonly message: string
  readonly details: unknown
  readonly at: Date
}

/** Where a connection × entity's next incremental pass starts, and when it last succeeded. */
export interface EntityCursor {
  readonly entityType: EntityType
  readonly watermark: Date | null
  readonly lastFullAt: Date | null
  readonly lastSuccessAt: Date | null
}

/**
 * Sync jobs as durable rows: idempotent by key, coalesced per connection × entity × direction while waiting, claimed
 * under a fencing token so a worker that lost its job (taken over after its heartbeat stopped) cannot commit.
 */
export class SyncJobStore extends Context.Service<
  SyncJobStore,
  {
    readonly request: (request: JobRequest) => Effect.Effect<Requested, StoreUnavailable>
    readonly get: (tenantId: TenantId, jobId: string) => Effect.Effect<Option.Option<SyncJob>, StoreUnavailable>
    /** Takes the job under `claim` when it is queued (and due), or running with a heartbeat older than `stale`. */
    readonly claim: (
      tenantId: TenantId,
      jobId: string,
      claim: string,
      staleMillis: number
    ) => Effect.Effect<SyncJob | ClaimRefusal, StoreUnavailable>
    readonly heartbeat: (
      tenantId: TenantId,
      jobId: string,
      claim: string
    ) => Effect.Effect<{ readonly stopRequested: boolean }, LostClaim | StoreUnavailable>
    /** Records the mapping version and total a pass starts with. */
    readonly started: (
      tenantId: TenantId,
      jobId: string,
      claim: string,
      mappingVersion: number
    ) => Effect.Effect<void, LostClaim | StoreUnavailable>
    readonly finish: (
      tenantId: TenantId,
      jobId: string,
      claim: string,
      finish: Finish
    ) => Effect.Effect<void, LostClaim | StoreUnavailable>
    readonly log: (
      tenantId: TenantId,
      jobId: string,
      level: JobLog["level"],
      message: string,
      details?: unknown
    ) => Effect.Effect<void, StoreUnavailable>
    readonly logs: (
      tenantId: TenantId,
      jobIds: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyMap<string, ReadonlyArray<JobLog>>, StoreUnavailable>
    readonly history: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      query: HistoryQuery
    ) => Effect.Effect<ReadonlyArray<SyncJob>, StoreUnavailable>
    /** The newest job per entity type and direction (a waiting or running one first), the cursors and the schedule. */
    readonly latest: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<
      {
        readonly jobs: ReadonlyArray<SyncJob>
        readonly cursors: ReadonlyArray<EntityCursor>
        /** When the connection's next periodic sync is due; null before the scheduler has seen it. */
        readonly nextRunAt: Date | null
      },
      StoreUnavailable
    >
    /** Queued jobs become cancelled; running ones pause at their next page. Answers the jobs touched. */
    readonly stop: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      jobId: Option.Option<string>
    ) => Effect.Effect<ReadonlyArray<SyncJob>, StoreUnavailable>
    /** Failed, dead or paused jobs queued again, checkpoint kept (a waiting job of the same kind absorbs them). */
    readonly retry: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      jobId: Option.Option<string>
    ) => Effect.Effect<ReadonlyArray<SyncJob>, StoreUnavailable>
    /** Paused jobs of a connection (needs_reauth) queued again after a reconnect. */
    readonly resumePaused: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<ReadonlyArray<SyncJob>, StoreUnavailable>
  }
>()("integration-service/ports/sync/SyncJobStore") {}
