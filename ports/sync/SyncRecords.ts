import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { MappingOutcome } from "../../domain/mapping/Compile.ts"
import type { Checkpoint, JobCounts } from "../../domain/sync/SyncJob.ts"
import type { LostClaim } from "./SyncJobStore.ts"

/** One provider record as it goes into the store: raw payload, its mapped form, or a deletion. */
export interface RecordWrite {
  readonly externalId: string
  readonly raw: Record<string, unknown>
  readonly deleted: boolean
  /** The mapping's output and errors; ignored for a deletion (the record keeps its last data). */
  readonly mapped: MappingOutcome | null
}

export interface PageCommit {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: EntityType
  readonly jobId: string
  readonly claim: string
  readonly mappingVersion: number
  /** Full passes mark what they saw, so that a complete pass can tell what vanished. */
  readonly full: boolean
  readonly records: ReadonlyArray<RecordWrite>
  readonly checkpoint: Checkpoint
  readonly total: number | null
}

export interface FeedRecord {
  readonly externalId: string
  readonly entityType: EntityType
  readonly change: "added" | "updated" | "deleted"
  readonly data: unknown
  readonly mappingVersion: number
  readonly platformId: string | null
  readonly updatedAt: Date
  readonly seq: string
}

export interface StoredRaw {
  readonly externalId: string
  readonly raw: Record<string, unknown>
}

/**
 * The canonical copies of synced records. `commitPage` writes a page's records, the job's checkpoint and counts in
 * one transaction, under the job's claim: a crash before it leaves nothing of the page, after it the page is done.
 */
export class SyncRecords extends Context.Service<
  SyncRecords,
  {
    readonly commitPage: (commit: PageCommit) => Effect.Effect<JobCounts, LostClaim | StoreUnavailable>
    /** After a complete full pass: records of the entity this pass did not see are deleted. Answers how many. */
    readonly completeFullPass: (
      commit: Omit<PageCommit, "records" | "full" | "total" | "checkpoint">
    ) => Effect.Effect<number, LostClaim | StoreUnavailable>
    /** Ends the pass: the entity's watermark (when given) and last success, written with the job's completion. */
    readonly saveCursor: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      watermark: Date | null,
      full: boolean
    ) => Effect.Effect<void, StoreUnavailable>
    readonly cursorOf: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType
    ) => Effect.Effect<Option.Option<Date>, StoreUnavailable>
    /** The change feed: changes after `after` in commit order, valid canonical data only. */
    readonly feed: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: Option.Option<EntityType>,
      after: Option.Option<string>,
      limit: number
    ) => Effect.Effect<ReadonlyArray<FeedRecord>, StoreUnavailable>
    /** Stored raw payloads in external-id order after `after`: what a remap reads, and mapping test samples. */
    readonly raws: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      after: Option.Option<string>,
      limit: number
    ) => Effect.Effect<ReadonlyArray<StoredRaw>, StoreUnavailable>
    /** The most recently changed live records: what a mapping dry run tries when given no samples. */
    readonly samples: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      limit: number
    ) => Effect.Effect<
      ReadonlyArray<{ readonly raw: Record<string, unknown>; readonly data: unknown }>,
      StoreUnavailable
    >
    /** The `metadata` keys seen in the entity's synced records (Stripe's custom fields). */
    readonly metadataKeys: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType
    ) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
    /** How many live records the entity has stored (a remap's total). */
    readonly count: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType
    ) => Effect.Effect<number, StoreUnavailable>
  }
>()("integration-service/ports/sync/SyncRecords") {}
