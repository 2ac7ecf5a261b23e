import { Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { JobCounts } from "../../domain/sync/SyncJob.ts"
import { LostClaim } from "../../ports/sync/SyncJobStore.ts"
import { type FeedRecord, type PageCommit, type StoredRaw, SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { withTenant } from "./TenantTransaction.ts"

/** Rows a full pass must create or delete before the table's statistics are refreshed. */
const analyzeAfter = 1_000

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

interface Written {
  readonly externalId: string
  readonly change: "added" | "updated" | "deleted"
  readonly inserted: boolean
}

/**
 * Synced records on PostgreSQL. Payloads are read as text and parsed here: the pool's snake→camel name transform would
 * otherwise rename the providers' own keys (`postal_code`) inside them. A page is one statement: the input as a JSON array, upserted where the raw payload's
 * hash, the mapping version or the deleted flag changed (an unchanged record is not rewritten), each change numbered
 * from one sequence under a per-connection advisory lock, so the feed's order is the commit order.
 */
export const PostgresSyncRecords = {
  layer: Layer.effect(
    SyncRecords,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const commitPage = Effect.fn("SyncRecords.commitPage")(function* (c: PageCommit) {
        yield* Effect.annotateCurrentSpan({ "sync.job.id": c.jobId, "sync.records": c.records.length })
        // A provider page may list a record twice (it changed while being paged): the last one stands.
        const last = new Map(c.records.map((r) => [r.externalId, r]))
        const input = JSON.stringify(
          [...last.values()].map((r) => ({
            external_id: r.externalId,
            raw: r.raw,
            data: r.mapped?.output ?? {},
            errors: r.mapped === null || r.mapped.errors.length === 0 ? null : r.mapped.errors,
            deleted: r.deleted
          }))
        )
        return yield* Effect.gen(function* () {
          // The claim first: a worker that lost its job writes nothing.
          const fence = yield* sql`SELECT 1 FROM sync_jobs WHERE id = ${c.jobId} AND claim = ${c.claim}
            AND status = 'running' FOR UPDATE`
          if (fence.length === 0) return yield* new LostClaim({ jobId: c.jobId })
          yield* sql`SELECT pg_advisory_xact_lock(hashtext(${c.connectionId}))`
          const seen = c.full ? c.jobId : null
          const written = (yield* sql`WITH input AS (
              SELECT x.external_id, x.raw, x.data, x.errors, x.deleted, md5(x.raw::text) AS hash
              FROM jsonb_to_recordset(${input}::jsonb)
                AS x(external_id text, raw jsonb, data jsonb, errors jsonb, deleted boolean)
            )
            INSERT INTO synced_records AS s (tenant_id, connection_id, entity_type, external_id, raw, content_hash,
              data, errors, mapping_version, deleted, change, change_seq, seen_by)
            SELECT ${c.tenantId}, ${c.connectionId}, ${c.entityType}, i.external_id, i.raw, i.hash, i.data, i.errors,
              ${c.mappingVersion}, i.deleted, CASE WHEN i.deleted THEN 'deleted' ELSE 'added' END,
              nextval('synced_records_change_seq'), ${seen}::uuid
            FROM input i
            -- A deletion of a record never seen (or already deleted) is nothing to tell.
            WHERE NOT i.deleted OR EXISTS (SELECT 1 FROM synced_records e WHERE e.tenant_id = ${c.tenantId}
              AND e.connection_id = ${c.connectionId} AND e.entity_type = ${c.entityType}
              AND e.external_id = i.external_id AND NOT e.deleted)
            ON CONFLICT (tenant_id, connection_id, entity_type, external_id) DO UPDATE SET
              -- A deleted record keeps its last data: the feed says what was deleted.
              raw = CASE WHEN EXCLUDED.deleted THEN s.raw ELSE EXCLUDED.raw END,
              content_hash = CASE WHEN EXCLUDED.deleted THEN s.content_hash ELSE EXCLUDED.content_hash END,
              data = CASE WHEN EXCLUDED.deleted THEN s.data ELSE EXCLUDED.data END,
              -- A deletion is told even of a record whose last mapping failed.
              errors = CASE WHEN EXCLUDED.deleted THEN NULL ELSE EXCLUDED.errors END,
              mapping_version = EXCLUDED.mapping_version,
              deleted = EXCLUDED.deleted,
              change = CASE WHEN EXCLUDED.deleted THEN 'deleted' WHEN s.deleted THEN 'added' ELSE 'updated' END,
              change_seq = EXCLUDED.change_seq,
              seen_by = coalesce(EXCLUDED.seen_by, s.seen_by),
              updated_at = now()
            WHERE s.deleted <> EXCLUDED.deleted OR (NOT EXCLUDED.deleted
              AND (s.content_hash <> EXCLUDED.content_hash OR s.mapping_version <> EXCLUDED.mapping_version))
            RETURNING external_id, change, (xmax = 0) AS inserted`) as unknown as ReadonlyArray<Written>
          // Unchanged records seen by this full pass: only the mark, no new change (written ones carry it already).
          const rewritten = new Set(written.map((w) => w.externalId))
          const unchanged = c.records.filter((r) => !rewritten.has(r.externalId)).map((r) => r.externalId)
          if (seen !== null && unchanged.length > 0) {
            yield* sql`UPDATE synced_records SET seen_by = ${seen}
              WHERE tenant_id = ${c.tenantId} AND connection_id = ${c.connectionId} AND entity_type = ${c.entityType}
                AND external_id IN ${sql.in(unchanged)} AND seen_by IS DISTINCT FROM ${seen}`
          }
          const created = written.filter((w) => w.inserted).length
          const deleted = written.filter((w) => w.change === "deleted").length
          const updated = written.length - created - deleted
          const counts: JobCounts = {
            fetched: c.records.length,
            created,
            updated,
            unchanged: c.records.length - written.length,
            deleted,
            failed: c.records.filter((r) => !r.deleted && r.mapped !== null && r.mapped.errors.length > 0).length
          }
          yield* sql`UPDATE sync_jobs SET checkpoint = ${JSON.stringify(c.checkpoint)}::jsonb,
              total = coalesce(${c.total}, total), heartbeat_at = now(),
              fetched = fetched + ${counts.fetched}, created = created + ${counts.created},
              updated = updated + ${counts.updated}, unchanged = unchanged + ${counts.unchanged},
              deleted = deleted + ${counts.deleted}, failed = failed + ${counts.failed}
            WHERE id = ${c.jobId}`
          return counts
        }).pipe(
          withTenant(sql, c.tenantId),
          Effect.mapError((e) => (e._tag === "SqlError" ? unavailable(e) : e))
        )
      })

      const completeFullPass = Effect.fn("SyncRecords.completeFullPass")(function* (
        c: Omit<PageCommit, "records" | "full" | "total" | "checkpoint">
      ) {
        return yield* Effect.gen(function* () {
          const fence = yield* sql`SELECT 1 FROM sync_jobs WHERE id = ${c.jobId} AND claim = ${c.claim}
            AND status = 'running' FOR UPDATE`
          if (fence.length === 0) return yield* new LostClaim({ jobId: c.jobId })
          yield* sql`SELECT pg_advisory_xact_lock(hashtext(${c.connectionId}))`
          const gone = yield* sql`UPDATE synced_records SET deleted = true, change = 'deleted',
              change_seq = nextval('synced_records_change_seq'), updated_at = now()
            WHERE tenant_id = ${c.tenantId} AND connection_id = ${c.connectionId} AND entity_type = ${c.entityType}
              AND NOT deleted AND seen_by IS DISTINCT FROM ${c.jobId}
            RETURNING 1`
          const job = yield* sql`UPDATE sync_jobs SET deleted = deleted + ${gone.length} WHERE id = ${c.jobId}
            RETURNING created + deleted AS changed`
          // A pass that changed many rows refreshes the planner's statistics (autovacuum may be off or behind): without
          // them every page's lookups by external id would scan the whole connection.
          if (((job[0] as { changed: number } | undefined)?.changed ?? 0) >= analyzeAfter)
            yield* sql`SELECT app_analyze_synced_records()`
          return gone.length
        }).pipe(
          withTenant(sql, c.tenantId),
          Effect.mapError((e) => (e._tag === "SqlError" ? unavailable(e) : e))
        )
      })

      const saveCursor = Effect.fn("SyncRecords.saveCursor")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        watermark: Date | null,
        full: boolean
      ) {
        yield* sql`INSERT INTO sync_cursors (tenant_id, connection_id, entity_type, direction, watermark,
            last_full_at, last_success_at)
          VALUES (${tenantId}, ${connectionId}, ${entityType}, 'inbound', ${watermark},
            ${full ? sql`now()` : null}, now())
          ON CONFLICT (tenant_id, connection_id, entity_type, direction) DO UPDATE SET
            watermark = coalesce(EXCLUDED.watermark, sync_cursors.watermark),
            last_full_at = coalesce(EXCLUDED.last_full_at, sync_cursors.last_full_at),
            last_success_at = now()`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
      })

      const cursorOf = Effect.fn("SyncRecords.cursorOf")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType
      ) {
        const rows = yield* sql`SELECT watermark FROM sync_cursors WHERE connection_id = ${connectionId}
          AND entity_type = ${entityType} AND direction = 'inbound'`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return Option.fromNullishOr((rows[0] as { watermark: Date | null } | undefined)?.watermark)
      })

      const feed = Effect.fn("SyncRecords.feed")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: Option.Option<EntityType>,
        after: Option.Option<string>,
        limit: number
      ) {
        const filters = [
          sql`connection_id = ${connectionId}`,
          sql`errors IS NULL`,
          sql`change_seq > ${Option.getOrElse(after, () => "0")}::bigint`,
          ...Option.match(entityType, { onNone: () => [], onSome: (e) => [sql`entity_type = ${e}`] })
        ]
        const rows =
          yield* sql`SELECT external_id, entity_type, change, data::text AS data, mapping_version, platform_id,
            updated_at, change_seq::text AS seq
          FROM synced_records WHERE ${sql.and(filters)} ORDER BY change_seq LIMIT ${limit}`.pipe(
            withTenant(sql, tenantId),
            Effect.mapError(unavailable)
          )
        return (rows as unknown as ReadonlyArray<FeedRecord & { data: string }>).map((r) => ({
          ...r,
          data: JSON.parse(r.data)
        }))
      })

      const raws = Effect.fn("SyncRecords.raws")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        after: Option.Option<string>,
        limit: number
      ) {
        const rows = yield* sql`SELECT external_id, raw::text AS raw FROM synced_records
          WHERE connection_id = ${connectionId} AND entity_type = ${entityType} AND NOT deleted
            AND external_id > ${Option.getOrElse(after, () => "")}
          ORDER BY external_id LIMIT ${limit}`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        return (rows as unknown as ReadonlyArray<{ externalId: string; raw: string }>).map(
          (r): StoredRaw => ({ externalId: r.externalId, raw: JSON.parse(r.raw) })
        )
      })

      const count = Effect.fn("SyncRecords.count")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType
      ) {
        const rows = yield* sql`SELECT count(*)::int AS n FROM synced_records
          WHERE connection_id = ${connectionId} AND entity_type = ${entityType} AND NOT deleted`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return (rows[0] as { n: number }).n
      })

      const samples = Effect.fn("SyncRecords.samples")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        limit: number
      ) {
        const rows = yield* sql`SELECT raw::text AS raw, data::text AS data FROM synced_records
          WHERE connection_id = ${connectionId} AND entity_type = ${entityType} AND NOT deleted
          ORDER BY change_seq DESC LIMIT ${limit}`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        return (rows as unknown as ReadonlyArray<{ raw: string; data: string }>).map((r) => ({
          raw: JSON.parse(r.raw) as Record<string, unknown>,
          data: JSON.parse(r.data) as unknown
        }))
      })

      const metadataKeys = Effect.fn("SyncRecords.metadataKeys")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType
      ) {
        // Stripe allows 50 keys per object; a sample of recent records says which the account uses.
        const rows = yield* sql`SELECT DISTINCT k FROM (
            SELECT raw FROM synced_records WHERE connection_id = ${connectionId} AND entity_type = ${entityType}
              AND NOT deleted AND jsonb_typeof(raw->'metadata') = 'object'
            ORDER BY change_seq DESC LIMIT 1000
          ) r, jsonb_object_keys(r.raw->'metadata') AS k ORDER BY k LIMIT 200`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return (rows as ReadonlyArray<{ k: string }>).map((r) => r.k)
      })

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
