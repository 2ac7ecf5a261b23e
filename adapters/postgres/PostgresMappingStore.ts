import { Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { MappingVersionConflict } from "../../domain/mapping/MappingErrors.ts"
import { type BrokenRule, type MappingDraft, type MappingKey, SavedMapping } from "../../domain/mapping/SavedMapping.ts"
import { MappingStore } from "../../ports/MappingStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError | Schema.SchemaError) =>
  new StoreUnavailable({ message: `database: ${error.message}` })

const decode = Schema.decodeUnknownEffect(SavedMapping)
const decodeAll = Schema.decodeUnknownEffect(Schema.Array(SavedMapping))

const columns = "connection_id, entity_type, direction, version, rules, template, updated_by, status, broken_rules"

export const PostgresMappingStore = {
  layer: Layer.effect(
    MappingStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const keyed = (key: MappingKey) =>
        sql`tenant_id = ${key.tenantId} AND connection_id = ${key.connectionId}
          AND entity_type = ${key.entityType} AND direction = ${key.direction}`
      const one = (rows: ReadonlyArray<unknown>) =>
        rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(decode(rows[0]), Option.some)

      const current = Effect.fn("PostgresMappingStore.current")(function* (key: MappingKey) {
        return yield* sql`SELECT ${sql.literal(columns)}, updated_at FROM field_mappings WHERE ${keyed(key)}`.pipe(
          Effect.flatMap(one),
          withTenant(sql, key.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const version = Effect.fn("PostgresMappingStore.version")(function* (key: MappingKey, n: number) {
        return yield* sql`SELECT v.connection_id, v.entity_type, v.direction, v.version, v.rules, v.template,
            v.updated_by, v.created_at AS updated_at, m.status, m.broken_rules
          FROM field_mapping_versions v JOIN field_mappings m USING (tenant_id, connection_id, entity_type, direction)
          WHERE v.tenant_id = ${key.tenantId} AND v.connection_id = ${key.connectionId}
            AND v.entity_type = ${key.entityType} AND v.direction = ${key.direction} AND v.version = ${n}`.pipe(
          Effect.flatMap(one),
          withTenant(sql, key.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const history = Effect.fn("PostgresMappingStore.history")(function* (key: MappingKey) {
        return yield* sql`SELECT v.connection_id, v.entity_type, v.direction, v.version, v.rules, v.template,
            v.updated_by, v.created_at AS updated_at, m.status, m.broken_rules
          FROM field_mapping_versions v JOIN field_mappings m USING (tenant_id, connection_id, entity_type, direction)
          WHERE v.tenant_id = ${key.tenantId} AND v.connection_id = ${key.connectionId}
            AND v.entity_type = ${key.entityType} AND v.direction = ${key.direction}
          ORDER BY v.version DESC`.pipe(
          Effect.flatMap(decodeAll),
          withTenant(sql, key.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const save = Effect.fn("PostgresMappingStore.save")(function* (key: MappingKey, draft: MappingDraft) {
        const rules = JSON.stringify(draft.rules)
        const values = sql`${key.tenantId}, ${key.connectionId}, ${key.entityType}, ${key.direction}, 1,
          ${rules}::jsonb, ${draft.template}, ${draft.updatedBy}, ${draft.at}`
        const set = sql`rules = ${rules}::jsonb, template = ${draft.template}, updated_by = ${draft.updatedBy},
          updated_at = ${draft.at}, status = 'ok', broken_rules = '[]'`
        const insert = sql`INSERT INTO field_mappings (tenant_id, connection_id, entity_type, direction, version, rules,
          template, updated_by, updated_at) VALUES (${values})`
        // The row lock of the upsert or conditional update orders concurrent saves; a stale expectedVersion finds no row.
        const written =
          draft.expectedVersion === undefined
            ? sql`${insert} ON CONFLICT (tenant_id, connection_id, entity_type, direction)
                DO UPDATE SET version = field_mappings.version + 1, ${set}
                RETURNING ${sql.literal(columns)}, updated_at`
            : draft.expectedVersion === 0
              ? sql`${insert} ON CONFLICT DO NOTHING RETURNING ${sql.literal(columns)}, updated_at`
              : sql`UPDATE field_mappings SET version = version + 1, ${set}
                WHERE ${keyed(key)} AND version = ${draft.expectedVersion}
                RETURNING ${sql.literal(columns)}, updated_at`
        return yield* Effect.gen(function* () {
          const rows = yield* written
          if (rows.length === 0) {
            const [found] = yield* sql<{ version: number }>`SELECT version FROM field_mappings WHERE ${keyed(key)}`
            return yield* new MappingVersionConflict({
              expectedVersion: draft.expectedVersion ?? 0,
              currentVersion: found?.version ?? 0
            })
          }
          const saved = yield* decode(rows[0])
          yield* sql`INSERT INTO field_mapping_versions (tenant_id, connection_id, entity_type, direction, version,
            rules, template, updated_by, created_at)
            VALUES (${key.tenantId}, ${key.connectionId}, ${key.entityType}, ${key.direction}, ${saved.version},
              ${rules}::jsonb, ${draft.template}, ${draft.updatedBy}, ${draft.at})`
          return saved
        }).pipe(
          withTenant(sql, key.tenantId),
          Effect.catchTag(["SqlError", "SchemaError"], (e) => Effect.fail(unavailable(e)))
        )
      })

      const markBroken = Effect.fn("PostgresMappingStore.markBroken")(function* (
        key: MappingKey,
        broken: ReadonlyArray<BrokenRule>
      ) {
        yield* sql`UPDATE field_mappings SET status = ${broken.length === 0 ? "ok" : "broken"},
            broken_rules = ${JSON.stringify(broken)}::jsonb
          WHERE ${keyed(key)} AND broken_rules <> ${JSON.stringify(broken)}::jsonb`.pipe(
          withTenant(sql, key.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const ofConnection = Effect.fn("PostgresMappingStore.ofConnection")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        return yield* sql`SELECT ${sql.literal(columns)}, updated_at FROM field_mappings
          WHERE tenant_id = ${tenantId} AND connection_id = ${connectionId}
          ORDER BY entity_type, direction`.pipe(
          Effect.flatMap(decodeAll),
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
      })

      return MappingStore.of({ current, version, history, save, markBroken, ofConnection })
    })
  )
} as const
