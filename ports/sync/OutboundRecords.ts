import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { ConflictPolicy } from "../../domain/sync/ConflictPolicy.ts"
import type { Checkpoint, JobCounts } from "../../domain/sync/SyncJob.ts"
import type { LostClaim } from "./SyncJobStore.ts"

/** A platform record as an outbound job reads it, in change order. */
export interface PlatformChange {
  readonly id: string
  readonly version: number
  readonly data: Record<string, unknown>
  readonly deleted: boolean
  readonly changedAt: Date
  /** Its place in the venue's change order: the job's cursor once it is done. */
  readonly seq: string
}

/** A platform record's link to the provider object it was pushed as, and what the push left. */
export interface PushLink {
  readonly platformId: string
  readonly externalId: string
  readonly raw: Record<string, unknown>
  readonly deleted: boolean
  /** Hash of the mapped fields last sent; null: linked but never pushed by us. */
  readonly pushedHash: string | null
  /** The provider changed the object after our last push (an inbound read or webhook brought a different copy). */
  readonly changedSincePush: boolean
  /** When the synced copy last changed. */
  readonly changedAt: Date
}

/** One pushed record as the provider answered it. */
export interface Pushed {
  readonly platformId: string
  readonly version: number
  readonly externalId: string
  readonly raw: Record<string, unknown>
  /** The answer through the inbound mapping: the synced copy's canonical data, as an inbound read would store it. */
  readonly data: Record<string, unknown>
  readonly archived: boolean
  readonly pushedHash: string
}

export interface PushCommit {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: EntityType
  readonly jobId: string
  readonly claim: string
  /** The inbound mapping version `data` was made with. */
  readonly mappingVersion: number
  readonly pushed: ReadonlyArray<Pushed>
  /** For the job: created, updated, deleted (archived), unchanged (skipped), failed. */
  readonly counts: JobCounts
  readonly checkpoint: Checkpoint
}

/**
 * What outbound sync reads and writes: the venue's platform records in change order, their links to provider
 * objects, and each page's pushes committed with the job's checkpoint in one transaction under its claim. A crash
 * between a provider's answer and the commit leaves the record unlinked; the next run pushes it again under the same
 * idempotency key, and the provider answers with the object it made the first time.
 */
export class OutboundRecords extends Context.Service<
  OutboundRecords,
  {
    readonly changes: (
      tenantId: TenantId,
      venueId: VenueId,
      entityType: EntityType,
      after: string,
      limit: number
    ) => Effect.Effect<ReadonlyArray<PlatformChange>, StoreUnavailable>
    readonly links: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      platformIds: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyArray<PushLink>, StoreUnavailable>
    /** The live provider object a platform record was pushed as. */
    readonly linkOf: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      platformId: string
    ) => Effect.Effect<Option.Option<string>, StoreUnavailable>
    /** The venue's live platform records of an entity among `ids` (a writer's look-up: an order's buyer). */
    readonly records: (
      tenantId: TenantId,
      venueId: VenueId,
      entityType: EntityType,
      ids: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyMap<string, Record<string, unknown>>, StoreUnavailable>
    readonly commitPush: (commit: PushCommit) => Effect.Effect<void, LostClaim | StoreUnavailable>
    /** Where the next incremental outbound pass starts (a change sequence number); none: from the beginning. */
    readonly position: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType
    ) => Effect.Effect<Option.Option<string>, StoreUnavailable>
    readonly savePosition: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      position: string,
      full: boolean
    ) => Effect.Effect<void, StoreUnavailable>
    readonly policies: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<ReadonlyMap<EntityType, ConflictPolicy>, StoreUnavailable>
    readonly setPolicy: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      policy: ConflictPolicy,
      updatedBy: string
    ) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/sync/OutboundRecords") {}
