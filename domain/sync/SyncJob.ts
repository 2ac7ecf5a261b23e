import { Schema } from "effect"
import type { EntityType } from "../canonical/EntityType.ts"
import type { Provider } from "../Provider.ts"

export const Priority = Schema.Literals(["low", "normal", "high", "critical"])
export type Priority = typeof Priority.Type

/** Highest first: the order in which waiting jobs get a worker. */
export const priorities: ReadonlyArray<Priority> = ["critical", "high", "normal", "low"]
export const priorityRank = (p: Priority): number => priorities.indexOf(p)
export const higher = (a: Priority, b: Priority): Priority => (priorityRank(a) <= priorityRank(b) ? a : b)

export const SyncDirection = Schema.Literals(["inbound", "outbound", "bidirectional"])
export type SyncDirection = typeof SyncDirection.Type

/** `remap` runs a new mapping version over the stored raw payloads, with no provider call. */
export const JobMode = Schema.Literals(["full", "incremental", "remap"])
export type JobMode = typeof JobMode.Type

export const JobStatus = Schema.Literals(["queued", "running", "completed", "failed", "cancelled", "dead", "paused"])
export type JobStatus = typeof JobStatus.Type

/** A job that can run again from its checkpoint through `/sync/retry`. */
export const retryable = (status: JobStatus): boolean => status === "failed" || status === "dead" || status === "paused"

export const JobCounts = Schema.Struct({
  fetched: Schema.Int,
  created: Schema.Int,
  updated: Schema.Int,
  unchanged: Schema.Int,
  deleted: Schema.Int,
  failed: Schema.Int
})
export type JobCounts = typeof JobCounts.Type

export const noCounts: JobCounts = { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0 }

export const addCounts = (a: JobCounts, b: JobCounts): JobCounts => ({
  fetched: a.fetched + b.fetched,
  created: a.created + b.created,
  updated: a.updated + b.updated,
  unchanged: a.unchanged + b.unchanged,
  deleted: a.deleted + b.deleted,
  failed: a.failed + b.failed
})

/**
 * Where a running pass stands, committed with every page: the mode it settled on (an incremental request may have
 * become full), its `since`, the adapter's cursor for the next page (null once the pass is complete), and the
 * watermark the next incremental pass will start from.
 */
export const Checkpoint = Schema.Struct({
  mode: Schema.Literals(["full", "incremental", "remap"]),
  since: Schema.NullOr(Schema.String),
  cursor: Schema.NullOr(Schema.String),
  watermark: Schema.NullOr(Schema.String),
  pages: Schema.Int
})
export type Checkpoint = typeof Checkpoint.Type

export interface SyncJob {
  readonly id: string
  readonly tenantId: string
  readonly connectionId: string
  readonly venueId: string
  readonly provider: Provider
  readonly entityType: EntityType
  readonly direction: "inbound" | "outbound"
  readonly mode: JobMode
  readonly priority: Priority
  readonly status: JobStatus
  readonly idempotencyKey: string
  readonly requestedBy: string
  readonly attempts: number
  readonly checkpoint: Checkpoint | null
  readonly mappingVersion: number | null
  readonly total: number | null
  readonly counts: JobCounts
  readonly lastError: string | null
  readonly stopRequested: boolean
  readonly createdAt: Date
  readonly startedAt: Date | null
  readonly finishedAt: Date | null
  readonly heartbeatAt: Date | null
}
