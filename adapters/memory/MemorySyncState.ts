import { Clock, Context, Effect, Layer } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { RuleIssue } from "../../domain/mapping/Compile.ts"
import type { SyncJob } from "../../domain/sync/SyncJob.ts"

/** A job row: the job as the port answers it, plus what only the store sees. */
export interface JobRow {
  job: SyncJob
  claim: string | null
  awaitingReauth: boolean
  runAfter: number
}

export interface RecordRow {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: EntityType
  readonly externalId: string
  readonly raw: Record<string, unknown>
  readonly hash: string
  readonly data: unknown
  readonly errors: ReadonlyArray<RuleIssue> | null
  readonly mappingVersion: number
  readonly deleted: boolean
  readonly change: "added" | "updated" | "deleted"
  readonly seq: number
  /** The last full pass (job id) that saw the record. */
  readonly seenBy: string | null
  readonly updatedAt: Date
}

export interface CursorRow {
  readonly watermark: Date | null
  readonly lastFullAt: Date | null
  readonly lastSuccessAt: Date | null
}

export interface LogRow {
  readonly tenantId: TenantId
  readonly jobId: string
  readonly level: "info" | "warn" | "error"
  readonly message: string
  readonly details: unknown
  readonly at: Date
}

/** A connection as the scheduler sees it. */
export interface WorldConnection {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  status: "connected" | "disconnected" | "needs_reauth"
}

/** A webhook's sync request waiting for the scheduler: one per connection × entity, bursts coalesced. */
export interface WorldRequest {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: EntityType
  source: string
  readonly requestedAt: number
}

/**
 * Everything the in-memory sync adapters share. Each port operation is one synchronous step over it, so a page's
 * records, the job's checkpoint and its counts change together, as in one transaction.
 */
export interface SyncState {
  readonly jobs: Map<string, JobRow>
  readonly logs: Array<LogRow>
  /** Keyed `tenant|connection|entity` (inbound only: outbound cursors are not written yet). */
  readonly cursors: Map<string, CursorRow>
  /** Keyed `tenant|connection|entity|externalId`. */
  readonly records: Map<string, RecordRow>
  /** The change feed's sequence, shared by every connection like PostgreSQL's. */
  seq: number
  /** Keyed `tenant|connection`: when the periodic sync is next due. */
  readonly schedules: Map<string, { nextRunAt: number; lastRunAt: number | null }>
  /** Keyed `tenant|connection`. */
  readonly connections: Map<string, WorldConnection>
  /** Keyed `tenant|connection|entity`. */
  readonly requests: Map<string, WorldRequest>
}

export const connectionKey = (tenantId: string, connectionId: string) => `${tenantId}|${connectionId}`
export const entityKey = (tenantId: string, connectionId: string, entityType: string) =>
  `${tenantId}|${connectionId}|${entityType}`
export const recordKey = (tenantId: string, connectionId: string, entityType: string, externalId: string) =>
  `${tenantId}|${connectionId}|${entityType}|${externalId}`

/**
 * The sync engine's tables in process memory, and the world around them the scheduler reads: which connections exist
 * (and whether connected) and which webhook sync requests wait. Tests and the composition root fill the world in.
 */
export class MemorySyncState extends Context.Service<
  MemorySyncState,
  {
    readonly state: SyncState
    readonly connect: (tenantId: TenantId, connectionId: ConnectionId) => Effect.Effect<void>
    readonly setConnectionStatus: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      status: WorldConnection["status"]
    ) => Effect.Effect<void>
    readonly requestSync: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      entityType: EntityType,
      source: string
    ) => Effect.Effect<void>
  }
>()("integration-service/adapters/memory/MemorySyncState") {
  static readonly layer = Layer.sync(MemorySyncState, () => {
    const state: SyncState = {
      jobs: new Map(),
      logs: [],
      cursors: new Map(),
      records: new Map(),
      seq: 0,
      schedules: new Map(),
      connections: new Map(),
      requests: new Map()
    }
    return MemorySyncState.of({
      state,
      connect: (tenantId, connectionId) =>
        Effect.sync(() => {
          state.connections.set(connectionKey(tenantId, connectionId), { tenantId, connectionId, status: "connected" })
        }),
      setConnectionStatus: (tenantId, connectionId, status) =>
        Effect.sync(() => {
          const c = state.connections.get(connectionKey(tenantId, connectionId))
          if (c !== undefined) c.status = status
        }),
      requestSync: (tenantId, connectionId, entityType, source) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const key = entityKey(tenantId, connectionId, entityType)
          const waiting = state.requests.get(key)
          if (waiting !== undefined) waiting.source = source
          else state.requests.set(key, { tenantId, connectionId, entityType, source, requestedAt: now })
        })
    })
  })
}
