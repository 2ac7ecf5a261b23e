import { Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { ConflictPolicy } from "../../domain/sync/ConflictPolicy.ts"
import { OutboundRecords, type PushCommit } from "../../ports/sync/OutboundRecords.ts"
import { LostClaim } from "../../ports/sync/SyncJobStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

interface ChangeRow {
  readonly id: string
  readonly version: string
  readonly data: string
  readonly deleted: boolean
  readonly updatedAt: Date
  readonly seq: string
}

interface LinkRow {
  readonly platformId: string
  readonly externalId: string
  readonly raw: string
  readonly deleted: boolean
  readonly pushedHash: string | null
  readonly changedSincePush: boolean
  readonly updatedAt: Date
}

/**
 * Outbound sync's records on PostgreSQL. Links live on `synced_records` (platform_id and the pushed_* columns), so
 * the provider object's last known state is one row whichever direction last touched it; payloads are read as text
 * (the pool's name transform would rename the providers' keys inside them).
 */
export const PostgresOutboundRecords = {
  layer: Layer.effect(
    OutboundRecords,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const changes = Effect.fn("OutboundRecords.changes")(function* (
        tenantId: TenantId,
        venueId: VenueId,
        entityType: EntityType,
        after: string,
        limit: number
      ) {
        const rows = (yield* sql`SELECT id, version::text AS version, data::text AS data, deleted, updated_at,
            change_seq::text AS seq
          FROM platform_records WHERE venue_id = ${venueId} AND entity_type = ${entityType}
            AND change_seq > ${after}::bigint
          ORDER BY change_seq LIMIT ${limit}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )) as unknown as ReadonlyArray<ChangeRow>
        return rows.map((r) => ({
          id: r.id,
          version: Number(r.version),
          data: JSON.parse(r.data) as Record<string, unknown>,
          deleted: r.deleted,
          changedAt: r.updatedAt,
          seq: r.seq
        }))
      })

      const links = Effect.fn("OutboundRecords.links")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        platformIds: ReadonlyArray<string>
      ) {
        if (platformIds.length === 0) return []
        const rows = (yield* sql`SELECT platform_id, external_id, raw::text AS raw, deleted, pushed_hash,
            (pushed_content_hash IS DISTINCT FROM content_hash) AS changed_since_push, updated_at
          FROM synced_records WHERE connection_id = ${connectionId} AND entity_type = ${entityType}
            AND platform_id IN ${sql.in(platformIds)}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )) as unknown as ReadonlyArray<LinkRow>
        return rows.map((r) => ({
          platformId: r.platformId,
          externalId: r.externalId,
          raw: JSON.parse(r.raw) as Record<string, unknown>,
          deleted: r.deleted,
          pushedHash: r.pushedHash,
          changedSincePush: r.changedSincePush,
          changedAt: r.updatedAt
        }))
      })

      const linkOf = Effect.fn("OutboundRecords.linkOf")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        platformId: string
      ) {
        const rows = yield* sql`SELECT external_id FROM synced_records WHERE connection_id = ${connectionId}
          AND entity_type = ${entityType} AND platform_id = ${platformId} AND NOT deleted`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return Option.fromNullishOr((rows[0] as { externalId: string } | undefined)?.externalId)
      })

      const records = Effect.fn("OutboundRecords.records")(function* (
        tenantId: TenantId,
        venueId: VenueId,
        entityType: EntityType,
        ids: ReadonlyArray<string>
      ) {
        if (ids.length === 0) return new Map<string, Record<string, unknown>>()
        const rows = (yield* sql`SELECT id, data::text AS data FROM platform_records
          WHERE venue_id = ${venueId} AND entity_type = ${entityType} AND id IN ${sql.in(ids)} AND NOT deleted`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )) as unknown as ReadonlyArray<{ readonly id: string; readonly data: string }>
        return new Map(rows.map((r) => [r.id, JSON.parse(r.data) as Record<string, unknown>]))
      })

      const commitPush = Effect.fn("OutboundRecords.commitPush")(function* (c: PushCommit) {
        yield* Effect.annotateCurrentSpan({ "sync.job.id": c.jobId, "sync.records": c.pushed.length })
        const input = JSON.stringify(
          c.pushed.map((p) => ({
            platform_id: p.platformId,
            external_id: p.externalId,
            raw: p.raw,
            data: p.data,
            deleted: p.archived,
            version: p.version,
            pushed_hash: p.pushedHash
          }))
        )
        yield* Effect.gen(function* () {
          const fence = yield* sql`SELECT 1 FROM sync_jobs WHERE id = ${c.jobId} AND claim = ${c.claim}
            AND status = 'running' FOR UPDATE`
          if (fence.length === 0) return yield* new LostClaim({ jobId: c.jobId })
          // The same lock as inbound pages: the change feed's numbers stay in commit order.
          yield* sql`SELECT pg_advisory_xact_lock(hashtext(${c.connectionId}))`
          if (c.pushed.length > 0) {
            // A record pushed again as a new object (the old one vanished at the provider) moves its link.
            yield* sql`UPDATE synced_records s SET platform_id = NULL
              FROM jsonb_to_recordset(${input}::jsonb) AS x(platform_id text, external_id text)
              WHERE s.tenant_id = ${c.tenantId} AND s.connection_id = ${c.connectionId}
                AND s.entity_type = ${c.entityType} AND s.platform_id = x.platform_id
                AND s.external_id <> x.external_id`
            yield* sql`WITH input AS (
                SELECT x.*, md5(x.raw::text) AS hash FROM jsonb_to_recordset(${input}::jsonb)
                  AS x(platform_id text, external_id text, raw jsonb, data jsonb, deleted boolean, version bigint,
                    pushed_hash text)
              )
              INSERT INTO synced_records AS s (tenant_id, connection_id, entity_type, external_id, platform_id, raw,
                content_hash, data, mapping_version, deleted, change, change_seq, pushed_version, pushed_hash,
                pushed_content_hash)
              SELECT ${c.tenantId}, ${c.connectionId}, ${c.entityType}, i.external_id, i.platform_id, i.raw, i.hash,
                i.data, ${c.mappingVersion}, i.deleted, CASE WHEN i.deleted THEN 'deleted' ELSE 'added' END,
                nextval('synced_records_change_seq'), i.version, i.pushed_hash, i.hash
              FROM input i
              ON CONFLICT (tenant_id, connection_id, entity_type, external_id) DO UPDATE SET
                platform_id = EXCLUDED.platform_id, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash,
                data = EXCLUDED.data, errors = NULL, mapping_version = EXCLUDED.mapping_version,
                deleted = EXCLUDED.deleted,
                change = CASE WHEN EXCLUDED.deleted THEN 'deleted' WHEN s.deleted THEN 'added' ELSE 'updated' END,
                change_seq = EXCLUDED.change_seq, updated_at = now(), pushed_version = EXCLUDED.pushed_version,
                pushed_hash = EXCLUDED.pushed_hash, pushed_content_hash = EXCLUDED.pushed_content_hash`
          }
          const n = c.counts
          yield* sql`UPDATE sync_jobs SET checkpoint = ${JSON.stringify(c.checkpoint)}::jsonb, heartbeat_at = now(),
              fetched = fetched + ${n.fetched}, created = created + ${n.created}, updated = updated + ${n.updated},
              unchanged = unchanged + ${n.unchanged}, deleted = deleted + ${n.deleted}, failed = failed + ${n.failed}
            WHERE id = ${c.jobId}`
        }).pipe(
          withTenant(sql, c.tenantId),
          Effect.mapError((e) => (e._tag === "SqlError" ? unavailable(e) : e))
        )
      })

      const position = Effect.fn("OutboundRecords.position")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType
      ) {
        const rows = yield* sql`SELECT position::text AS position FROM sync_cursors
          WHERE connection_id = ${connectionId} AND entity_type = ${entityType} AND direction = 'outbound'`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return Option.fromNullishOr((rows[0] as { position: string | null } | undefined)?.position)
      })

      const savePosition = Effect.fn("OutboundRecords.savePosition")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        at: string,
        full: boolean
      ) {
        yield* sql`INSERT INTO sync_cursors (tenant_id, connection_id, entity_type, direction, position, last_full_at,
            last_success_at)
          VALUES (${tenantId}, ${connectionId}, ${entityType}, 'outbound', ${at}::bigint,
            ${full ? sql`now()` : null}, now())
          ON CONFLICT (tenant_id, connection_id, entity_type, direction) DO UPDATE SET
            position = greatest(EXCLUDED.position, sync_cursors.position),
            last_full_at = coalesce(EXCLUDED.last_full_at, sync_cursors.last_full_at),
            last_success_at = now()`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
      })

      const policies = Effect.fn("OutboundRecords.policies")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        const rows = (yield* sql`SELECT entity_type, policy FROM sync_conflict_policies
          WHERE connection_id = ${connectionId}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )) as unknown as ReadonlyArray<{ entityType: EntityType; policy: ConflictPolicy }>
        return new Map(rows.map((r) => [r.entityType, r.policy]))
      })

      const setPolicy = Effect.fn("OutboundRecords.setPolicy")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        entityType: EntityType,
        policy: ConflictPolicy,
        updatedBy: string
      ) {
        yield* sql`INSERT INTO sync_conflict_policies (tenant_id, connection_id, entity_type, policy, updated_by)
          VALUES (${tenantId}, ${connectionId}, ${entityType}, ${policy}, ${updatedBy})
          ON CONFLICT (tenant_id, connection_id, entity_type) DO UPDATE SET policy = EXCLUDED.policy,
            updated_by = EXCLUDED.updated_by, updated_at = now()`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
      })

      return OutboundRecords.of({
        changes,
        links,
        linkOf,
        records,
        commitPush,
        position,
        savePosition,
        policies,
        setPolicy
      })
    })
  )
} as const
