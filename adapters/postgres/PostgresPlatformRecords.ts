import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { TenantId, VenueId } from "../../domain/Ids.ts"
import type { ValidRecord } from "../../domain/platform/PlatformRecord.ts"
import { PlatformRecords } from "../../ports/PlatformRecords.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/**
 * Platform records on PostgreSQL: a batch is one statement (all or nothing), a row changes only for a newer version
 * of a record of the same venue, and each change takes the next number of one sequence for outbound jobs to follow.
 */
export const PostgresPlatformRecords = {
  layer: Layer.effect(
    PlatformRecords,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      /**
       * A venue's changes are numbered one writer at a time, so they commit in number order and an outbound job that
       * has read up to a number never later finds a smaller one committed behind it.
       */
      const inOrder = <A, E, R>(venueId: VenueId, statement: Effect.Effect<A, E, R>) =>
        Effect.andThen(sql`SELECT pg_advisory_xact_lock(hashtext(${`platform:${venueId}`}))`, statement)

      const upsert = Effect.fn("PlatformRecords.upsert")(function* (
        tenantId: TenantId,
        venueId: VenueId,
        entityType: EntityType,
        records: ReadonlyArray<ValidRecord>
      ) {
        const input = JSON.stringify(records)
        const rows = yield* inOrder(
          venueId,
          sql`INSERT INTO platform_records AS p (tenant_id, venue_id, entity_type, id, version, data,
            change_seq)
          SELECT ${tenantId}, ${venueId}, ${entityType}, x.id, x.version, x.data, nextval('platform_records_change_seq')
          FROM jsonb_to_recordset(${input}::jsonb) AS x(id text, version bigint, data jsonb)
          ON CONFLICT (tenant_id, entity_type, id) DO UPDATE SET
            version = EXCLUDED.version, data = EXCLUDED.data, deleted = false,
            change_seq = EXCLUDED.change_seq, updated_at = now()
          WHERE p.venue_id = EXCLUDED.venue_id AND p.version < EXCLUDED.version
          RETURNING (xmax = 0) AS inserted`
        ).pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        const created = (rows as ReadonlyArray<{ inserted: boolean }>).filter((r) => r.inserted).length
        return { created, updated: rows.length - created, unchanged: records.length - rows.length }
      })

      const remove = Effect.fn("PlatformRecords.remove")(function* (
        tenantId: TenantId,
        venueId: VenueId,
        entityType: EntityType,
        id: string
      ) {
        const rows = yield* inOrder(
          venueId,
          sql`UPDATE platform_records SET deleted = true,
            change_seq = nextval('platform_records_change_seq'), updated_at = now()
          WHERE venue_id = ${venueId} AND entity_type = ${entityType} AND id = ${id} AND NOT deleted
          RETURNING 1`
        ).pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        if (rows.length > 0) return true
        const any = yield* sql`SELECT 1 FROM platform_records WHERE venue_id = ${venueId}
          AND entity_type = ${entityType} AND id = ${id}`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        return any.length > 0
      })

      return PlatformRecords.of({ upsert, remove })
    })
  )
} as const
