import { Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { Connection, type ConnectionStatus } from "../../domain/Connection.ts"
import { SealedSecret, type SecretPlace } from "../../domain/Credential.ts"
import { AlreadyConnected, StoreUnavailable } from "../../domain/Errors.ts"
import { afterCheck, ConnectionHealth, type HealthCheck } from "../../domain/Health.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { ConnectionStore, type SealedField } from "../../ports/ConnectionStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const decodeConnection = Schema.decodeUnknownSync(Connection)
const decodeSealed = Schema.decodeUnknownSync(SealedSecret)
const decodeHealth = Schema.decodeUnknownSync(ConnectionHealth)

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

const connectionColumns = `id, tenant_id, venue_id, provider, auth_type, status, account_id, account_name, livemode,
  last_error, connected_at, disconnected_at, created_at, updated_at`

const healthColumns = `connection_id, status, consecutive_failures, last_check_at, last_success_at, last_error, last_latency_ms`

export const PostgresConnectionStore = {
  layer: Layer.effect(
    ConnectionStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const inTenant =
        (tenantId: TenantId) =>
        <A, R>(self: Effect.Effect<A, SqlError.SqlError, R>) =>
          self.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))

      const find = Effect.fn("PostgresConnectionStore.find")(function* (
        tenantId: TenantId,
        venueId: VenueId,
        provider: Provider
      ) {
        const rows = yield* sql`SELECT ${sql.literal(connectionColumns)} FROM connections
          WHERE venue_id = ${venueId} AND provider = ${provider}`.pipe(inTenant(tenantId))
        return Option.map(Option.fromNullishOr(rows[0]), decodeConnection)
      })

      const list = Effect.fn("PostgresConnectionStore.list")(function* (
        tenantId: TenantId,
        venueIds: Option.Option<ReadonlyArray<VenueId>>
      ) {
        const rows = yield* Option.match(venueIds, {
          onNone: () => sql`SELECT ${sql.literal(connectionColumns)} FROM connections ORDER BY venue_id, provider`,
          onSome: (ids) =>
            ids.length === 0
              ? Effect.succeed([])
              : sql`SELECT ${sql.literal(connectionColumns)} FROM connections
                  WHERE ${sql.in("venue_id", ids)} ORDER BY venue_id, provider`
        }).pipe(inTenant(tenantId))
        return rows.map((row) => decodeConnection(row))
      })

      /**
       * One transaction: the connection row, its sealed fields, a health row. The unique (tenant, venue, provider)
       * decides which row this is, so a reconnect keeps the connection's id and its history. With `unlessConnected`
       * a row that is connected is left alone and nothing is written (`None`); a concurrent insert of the same venue
       * waits for the other transaction and then sees its row.
       */
      const upsert = (c: Connection, secrets: ReadonlyArray<SealedField>, unlessConnected: boolean) =>
        Effect.gen(function* () {
          const [row] = yield* sql<{ id: ConnectionId }>`
            INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id, account_name,
              livemode, last_error, connected_at, disconnected_at, created_at, updated_at)
            VALUES (${c.id}, ${c.tenantId}, ${c.venueId}, ${c.provider}, ${c.authType}, ${c.status}, ${c.accountId},
              ${c.accountName}, ${c.livemode}, ${c.lastError}, ${c.connectedAt}, ${c.disconnectedAt}, ${c.createdAt},
              ${c.updatedAt})
            ON CONFLICT (tenant_id, venue_id, provider) DO UPDATE SET
              auth_type = EXCLUDED.auth_type, status = EXCLUDED.status, account_id = EXCLUDED.account_id,
              account_name = EXCLUDED.account_name, livemode = EXCLUDED.livemode, last_error = EXCLUDED.last_error,
              connected_at = EXCLUDED.connected_at, disconnected_at = EXCLUDED.disconnected_at,
              updated_at = EXCLUDED.updated_at
            ${unlessConnected ? sql.literal("WHERE connections.status <> 'connected'") : sql.literal("")}
            RETURNING id`
          if (row === undefined) return Option.none<ConnectionId>()
          const connectionId = row.id
          for (const { field, sealed } of secrets) {
            yield* sql`
              INSERT INTO credentials (tenant_id, connection_id, venue_id, provider, field, ciphertext, iv, wrapped_key,
                key_id, updated_at)
              VALUES (${c.tenantId}, ${connectionId}, ${c.venueId}, ${c.provider}, ${field}, ${sealed.ciphertext},
                ${sealed.iv}, ${sealed.wrappedKey}, ${sealed.keyId}, ${c.updatedAt})
              ON CONFLICT (tenant_id, venue_id, provider, field) DO UPDATE SET
                connection_id = EXCLUDED.connection_id, ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv,
                wrapped_key = EXCLUDED.wrapped_key, key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at`
          }
          yield* sql`
            INSERT INTO integration_health (tenant_id, connection_id, status)
            VALUES (${c.tenantId}, ${connectionId}, 'unknown')
            ON CONFLICT (tenant_id, connection_id) DO NOTHING`
          return Option.some(connectionId)
        }).pipe(inTenant(c.tenantId))

      const createConnected = Effect.fn("PostgresConnectionStore.createConnected")(function* (
        connection: Connection,
        secrets: ReadonlyArray<SealedField>
      ) {
        const saved = yield* upsert(connection, secrets, true)
        if (Option.isNone(saved)) {
          return yield* new AlreadyConnected({ provider: connection.provider, venueId: connection.venueId })
        }
        return saved.value
      })

      const saveConnected = Effect.fn("PostgresConnectionStore.saveConnected")(function* (
        connection: Connection,
        secrets: ReadonlyArray<SealedField>
      ) {
        yield* upsert(connection, secrets, false)
      })

      const setStatus = Effect.fn("PostgresConnectionStore.setStatus")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        status: ConnectionStatus,
        lastError: string | null,
        at: Date
      ) {
        yield* sql`UPDATE connections SET status = ${status}, last_error = ${lastError}, updated_at = ${at}
          WHERE id = ${connectionId}`.pipe(inTenant(tenantId))
      })

      const disconnect = Effect.fn("PostgresConnectionStore.disconnect")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        at: Date
      ) {
        yield* Effect.gen(function* () {
          yield* sql`DELETE FROM credentials WHERE connection_id = ${connectionId}`
          yield* sql`UPDATE connections SET status = 'disconnected', disconnected_at = ${at}, updated_at = ${at},
            last_error = NULL WHERE id = ${connectionId}`
        }).pipe(inTenant(tenantId))
      })

      const secret = Effect.fn("PostgresConnectionStore.secret")(function* (place: SecretPlace) {
        const rows = yield* sql`SELECT ciphertext, iv, wrapped_key, key_id FROM credentials
          WHERE venue_id = ${place.venueId} AND provider = ${place.provider} AND field = ${place.field}`.pipe(
          inTenant(place.tenantId)
        )
        return Option.map(Option.fromNullishOr(rows[0]), decodeSealed)
      })

      const recordHealth = Effect.fn("PostgresConnectionStore.recordHealth")(function* (check: HealthCheck) {
        return yield* Effect.gen(function* () {
          const rows = yield* sql`SELECT ${sql.literal(healthColumns)} FROM integration_health
            WHERE connection_id = ${check.connectionId} FOR UPDATE`
          const next = afterCheck(rows[0] === undefined ? undefined : decodeHealth(rows[0]), check)
          yield* sql`
            INSERT INTO integration_health AS h (tenant_id, connection_id, status, consecutive_failures, checks_total,
              checks_failed, last_check_at, last_success_at, last_error, last_latency_ms, updated_at)
            VALUES (${check.tenantId}, ${check.connectionId}, ${next.status}, ${next.consecutiveFailures}, 1,
              ${check.ok ? 0 : 1}, ${next.lastCheckAt}, ${next.lastSuccessAt}, ${next.lastError},
              ${next.lastLatencyMs}, ${check.checkedAt})
            ON CONFLICT (tenant_id, connection_id) DO UPDATE SET
              status = EXCLUDED.status, consecutive_failures = EXCLUDED.consecutive_failures,
              checks_total = h.checks_total + 1, checks_failed = h.checks_failed + EXCLUDED.checks_failed,
              last_check_at = EXCLUDED.last_check_at, last_success_at = EXCLUDED.last_success_at,
              last_error = EXCLUDED.last_error, last_latency_ms = EXCLUDED.last_latency_ms,
              updated_at = EXCLUDED.updated_at`
          return next
        }).pipe(inTenant(check.tenantId))
      })

      const health = Effect.fn("PostgresConnectionStore.health")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        const rows = yield* sql`SELECT ${sql.literal(healthColumns)} FROM integration_health
          WHERE connection_id = ${connectionId}`.pipe(inTenant(tenantId))
        return Option.map(Option.fromNullishOr(rows[0]), decodeHealth)
      })

      return ConnectionStore.of({
        find,
        list,
        createConnected,
        saveConnected,
        setStatus,
        disconnect,
        secret,
        recordHealth,
        health
      })
    })
  )
}
