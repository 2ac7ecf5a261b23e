import { Clock, Effect, Layer, Option } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { JobCounts } from "../../domain/sync/SyncJob.ts"
import { type FeedRecord, type PageCommit, type StoredRaw, SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { fencedRow } from "./MemorySyncJobStore.ts"
import { entityKey, MemorySyncState, type RecordRow, recordKey } from "./MemorySyncState.ts"

/** JSON with object keys sorted, as jsonb stores it: two payloads differing only in key order are the same. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

/** What goes in comes out as a copy, as from a jsonb column. */
const copy = <A>(value: A): A => structuredClone(value)

/**
 * Synced records in process memory over the shared MemorySyncState. A page is one synchronous step: records, the
 * job's checkpoint and counts change together, and only under the job's claim. An unchanged record (same payload,
 * same mapping version) is not rewritten, so it keeps its place in the feed.
 */
export const MemorySyncRecords = {
  layer: Layer.effect(
    SyncRecords,
    Effect.gen(function* () {
      const { state } = yield* MemorySyncState
      const ofEntity = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType) =>
        [...state.records.values()].filter(
          (r) => r.tenantId === tenantId && r.connectionId === connectionId && r.entityType === entityType
        )
      const live = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType) =>
        ofEntity(tenantId, connectionId, entityType).filter((r) => !r.deleted)
      const newestFirst = (a: RecordRow, b: RecordRow) => b.seq - a.seq

      const commitPage = (c: PageCommit) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(fencedRow(state, c.tenantId, c.jobId, c.claim), (row) => {
            const seen = c.full ? c.jobId : null
            const updatedAt = new Date(now)
            let created = 0
            let updated = 0
            let deleted = 0
            for (const r of c.records) {
              const key = recordKey(c.tenantId, c.connectionId, c.entityType, r.externalId)
              const before = state.records.get(key)
              if (r.deleted) {
                // A deletion of a record never seen (or already deleted) is nothing to tell.
                if (before === undefined || before.deleted) {
                  if (before !== undefined && seen !== null) state.records.set(key, { ...before, seenBy: seen })
                  continue
                }
                // A deleted record keeps its last data: the feed says what was deleted, even after a failed mapping.
                state.records.set(key, {
                  ...before,
                  errors: null,
                  mappingVersion: c.mappingVersion,
                  deleted: true,
                  change: "deleted",
                  seq: ++state.seq,
                  seenBy: seen ?? before.seenBy,
                  updatedAt
                })
                deleted++
                continue
              }
              const hash = canonical(r.raw)
              if (
                before !== undefined &&
                !before.deleted &&
                before.hash === hash &&
                before.mappingVersion === c.mappingVersion
              ) {
                if (seen !== null) state.records.set(key, { ...before, seenBy: seen })
                continue
              }
              state.records.set(key, {
                tenantId: c.tenantId,
                connectionId: c.connectionId,
                entityType: c.entityType,
                externalId: r.externalId,
                raw: copy(r.raw),
                hash,
                data: copy(r.mapped?.output ?? {}),
                errors: r.mapped === null || r.mapped.errors.length === 0 ? null : copy(r.mapped.errors),
                mappingVersion: c.mappingVersion,
                deleted: false,
                change: before === undefined || before.deleted ? "added" : "updated",
                seq: ++state.seq,
                seenBy: seen ?? before?.seenBy ?? null,
                updatedAt
              })
              if (before === undefined) created++
              else updated++
            }
            const counts: JobCounts = {
              fetched: c.records.length,
              created,
              updated,
              unchanged: c.records.length - created - updated - deleted,
              deleted,
              failed: c.records.filter((r) => !r.deleted && r.mapped !== null && r.mapped.errors.length > 0).length
            }
            const job = row.job
            row.job = {
              ...job,
              checkpoint: copy(c.checkpoint),
              total: c.total ?? job.total,
              heartbeatAt: updatedAt,
              counts: {
                fetched: job.counts.fetched + counts.fetched,
                created: job.counts.created + counts.created,
                updated: job.counts.updated + counts.updated,
                unchanged: job.counts.unchanged + counts.unchanged,
                deleted: job.counts.deleted + counts.deleted,
                failed: job.counts.failed + counts.failed
              }
            }
            return counts
          })
        ).pipe(Effect.withSpan("MemorySyncRecords.commitPage"))

      const completeFullPass = (c: Omit<PageCommit, "records" | "full" | "total" | "checkpoint">) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(fencedRow(state, c.tenantId, c.jobId, c.claim), (row) => {
            const gone = live(c.tenantId, c.connectionId, c.entityType).filter((r) => r.seenBy !== c.jobId)
            for (const r of gone) {
              state.records.set(recordKey(r.tenantId, r.connectionId, r.entityType, r.externalId), {
                ...r,
                deleted: true,
                change: "deleted",
                seq: ++state.seq,
                updatedAt: new Date(now)
              })
            }
            row.job = { ...row.job, counts: { ...row.job.counts, deleted: row.job.counts.deleted + gone.length } }
            return gone.length
          })
        )

      const saveCursor = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        watermark: Date | null,
        full: boolean
      ) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const key = entityKey(tenantId, connectionId, entityType)
          const before = state.cursors.get(key)
          state.cursors.set(key, {
            watermark: watermark ?? before?.watermark ?? null,
            lastFullAt: full ? new Date(now) : (before?.lastFullAt ?? null),
            lastSuccessAt: new Date(now)
          })
        })

      const cursorOf = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType) =>
        Effect.sync(() =>
          Option.fromNullishOr(state.cursors.get(entityKey(tenantId, connectionId, entityType))?.watermark)
        )

      const feed = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: Option.Option<EntityType>,
        after: Option.Option<string>,
        limit: number
      ) =>
        Effect.sync(() => {
          const from = Number(Option.getOrElse(after, () => "0"))
          return [...state.records.values()]
            .filter(
              (r) =>
                r.tenantId === tenantId &&
                r.connectionId === connectionId &&
                r.errors === null &&
                r.seq > from &&
                Option.match(entityType, { onNone: () => true, onSome: (e) => r.entityType === e })
            )
            .sort((a, b) => a.seq - b.seq)
            .slice(0, limit)
            .map(
              (r): FeedRecord => ({
                externalId: r.externalId,
                entityType: r.entityType,
                change: r.change,
                data: copy(r.data),
                mappingVersion: r.mappingVersion,
                platformId: null,
                updatedAt: r.updatedAt,
                seq: String(r.seq)
              })
            )
        })

      const raws = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        after: Option.Option<string>,
        limit: number
      ) =>
        Effect.sync(() => {
          const from = Option.getOrElse(after, () => "")
          return live(tenantId, connectionId, entityType)
            .filter((r) => r.externalId > from)
            .sort((a, b) => (a.externalId < b.externalId ? -1 : 1))
            .slice(0, limit)
            .map((r): StoredRaw => ({ externalId: r.externalId, raw: copy(r.raw) }))
        })

      const samples = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType, limit: number) =>
        Effect.sync(() =>
          live(tenantId, connectionId, entityType)
            .sort(newestFirst)
            .slice(0, limit)
            .map((r) => ({ raw: copy(r.raw), data: copy(r.data) }))
        )

      const metadataKeys = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType) =>
        Effect.sync(() => {
          // Stripe allows 50 keys per object; a sample of recent records says which the account uses.
          const keys = new Set<string>()
          const isObject = (v: unknown): v is object => v !== null && typeof v === "object" && !Array.isArray(v)
          const recent = live(tenantId, connectionId, entityType)
            .filter((r) => isObject(r.raw.metadata))
            .sort(newestFirst)
            .slice(0, 1000)
          for (const r of recent) for (const k of Object.keys(r.raw.metadata as object)) keys.add(k)
          return [...keys].sort().slice(0, 200)
        })

      const count = (tenantId: TenantId, connectionId: ConnectionId, entityType: EntityType) =>
        Effect.sync(() => live(tenantId, connectionId, entityType).length)

      return SyncRecords.of({
        commitPage,
        completeFullPass,
        saveCursor,
        cursorOf,
        feed,
        raws,
        samples,
        metadataKeys,
        count
      })
    })
  )
} as const
