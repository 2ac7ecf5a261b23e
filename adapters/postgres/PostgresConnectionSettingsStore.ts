import { Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { ConnectionSettings, type SettingsChanges } from "../../domain/ConnectionSettings.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { ConnectionSettingsStore, type SettingsOwner } from "../../ports/ConnectionSettingsStore.ts"
import type { SealedField } from "../../ports/ConnectionStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })
const decode = Schema.decodeUnknownEffect(ConnectionSettings)

/** `connections.settings` (jsonb): keys the service does not know are kept as they are. */
export const PostgresConnectionSettingsStore = {
  layer: Layer.effect(
    ConnectionSettingsStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const read = Effect.fn("PostgresConnectionSettingsStore.read")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        const rows = yield* sql<{
          settings: unknown
        }>`SELECT settings FROM connections WHERE id = ${connectionId}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return yield* decode(rows[0]?.settings ?? {}).pipe(
          Effect.mapError(() => new StoreUnavailable({ message: "connections.settings holds a malformed setting" }))
        )
      })

      const update = Effect.fn("PostgresConnectionSettingsStore.update")(function* (
        c: SettingsOwner,
        changes: Partial<SettingsChanges>,
        secrets: ReadonlyArray<SealedField>
      ) {
        const entries = Object.entries(changes)
        const set = Object.fromEntries(entries.filter(([, value]) => value !== null))
        const cleared = entries.filter(([, value]) => value === null).map(([key]) => key)
        yield* Effect.gen(function* () {
          const updated = yield* sql`UPDATE connections SET settings = (settings || ${JSON.stringify(set)}::jsonb)
              - ${`{${cleared.join(",")}}`}::text[]
            WHERE id = ${c.id} RETURNING id`
          // A connection that is gone (or another tenant's) gets nothing, its secrets neither.
          if (updated.length === 0) return
          for (const { field, sealed } of secrets) {
            yield* sql`
              INSERT INTO credentials (tenant_id, connection_id, venue_id, provider, field, ciphertext, iv, wrapped_key,
                key_id, updated_at)
              VALUES (${c.tenantId}, ${c.id}, ${c.venueId}, ${c.provider}, ${field}, ${sealed.ciphertext},
                ${sealed.iv}, ${sealed.wrappedKey}, ${sealed.keyId}, now())
              ON CONFLICT (tenant_id, venue_id, provider, field) DO UPDATE SET
                connection_id = EXCLUDED.connection_id, ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv,
                wrapped_key = EXCLUDED.wrapped_key, key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at`
          }
        }).pipe(withTenant(sql, c.tenantId), Effect.mapError(unavailable))
      })

      return ConnectionSettingsStore.of({ read, update })
    })
  )
}
