import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import { Connection, ConnectionStatus } from "../../domain/Connection.ts"
import { type CredentialField, SealedSecret } from "../../domain/Credential.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { type SealedTokens, type StoredTokens, TokenStore } from "../../ports/TokenStore.ts"
import { appRole, withTenant } from "./TenantTransaction.ts"

const Nullable = <S extends Schema.Top>(s: S) => Schema.NullOr(s)

const Row = Schema.Struct({
  connectionId: ConnectionId,
  venueId: VenueId,
  provider: OAuthProviderName,
  status: ConnectionStatus,
  version: Schema.Int,
  obtainedAt: Schema.Date,
  expiresAt: Nullable(Schema.Date),
  refreshExpiresAt: Nullable(Schema.Date),
  hasRefreshToken: Schema.Boolean,
  scopes: Schema.Array(Schema.String),
  extra: Schema.Struct({ dc: Schema.optionalKey(Schema.String), apiEndpoint: Schema.optionalKey(Schema.String) }),
  aCiphertext: Schema.Uint8Array,
  aIv: Schema.Uint8Array,
  aWrappedKey: Schema.Uint8Array,
  aKeyId: Schema.String,
  rCiphertext: Nullable(Schema.Uint8Array),
  rIv: Nullable(Schema.Uint8Array),
  rWrappedKey: Nullable(Schema.Uint8Array),
  rKeyId: Nullable(Schema.String)
})
const decodeRow = Schema.decodeUnknownEffect(Row)
const decodeSealed = Schema.decodeUnknownEffect(SealedSecret)
const Due = Schema.Array(Schema.Struct({ tenantId: TenantId, connectionId: ConnectionId }))
const decodeDue = Schema.decodeUnknownEffect(Due)

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })
const corrupt = (table: string) => () => new StoreUnavailable({ message: `an ${table} row does not decode` })

export interface PostgresTokenStoreOptions {
  /** How long a refresh waits for another process's refresh of the same pair before giving up. */
  readonly lockTimeout: string
  /** A lock holder that stalls this long (a frozen process) loses its session, so the lock frees itself. */
  readonly idleTimeout: string
}

const defaults: PostgresTokenStoreOptions = { lockTimeout: "20s", idleTimeout: "60s" }

const tokenSelect = `SELECT t.connection_id, c.venue_id, t.provider, c.status, t.version, t.obtained_at, t.expires_at,
    t.refresh_expires_at, t.has_refresh_token, t.scopes, t.extra,
    a.ciphertext AS a_ciphertext, a.iv AS a_iv, a.wrapped_key AS a_wrapped_key, a.key_id AS a_key_id,
    r.ciphertext AS r_ciphertext, r.iv AS r_iv, r.wrapped_key AS r_wrapped_key, r.key_id AS r_key_id
  FROM oauth_tokens t
  JOIN connections c ON c.tenant_id = t.tenant_id AND c.id = t.connection_id
  JOIN credentials a ON a.tenant_id = t.tenant_id AND a.venue_id = c.venue_id AND a.provider = c.provider
    AND a.field = 'access_token'
  LEFT JOIN credentials r ON r.tenant_id = t.tenant_id AND r.venue_id = c.venue_id AND r.provider = c.provider
    AND r.field = 'refresh_token'
  WHERE t.connection_id = `

/**
 * Token pairs in `oauth_tokens` (lifecycle, version) and `credentials`
 * (ciphertexts). The refresh lock is `SELECT … FOR NO KEY UPDATE` on the pair's row
 * in a transaction of its own, held across the provider call: PostgreSQL
 * serializes every process on it, releases it if the holder's connection dies,
 * and `lock_timeout`/`idle_in_transaction_session_timeout` bound the wait and
 * a stalled holder. `savePending` runs on another pooled connection so it
 * commits before the lock's transaction does (NO KEY UPDATE, not UPDATE: its
 * foreign-key check takes KEY SHARE on the same row and must not wait for us).
 */
const make = (options: PostgresTokenStoreOptions = defaults) =>
  Layer.effect(
    TokenStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      /** A transaction of its own for the tenant, never joined to one the caller may have open. */
      const ownTransaction =
        (tenantId: TenantId) =>
        <A, E, R>(self: Effect.Effect<A, E, R>) =>
          sql
            .withTransaction(
              sql`SELECT set_config('role', ${appRole}, true), set_config('app.tenant_id', ${tenantId}, true),
                  set_config('lock_timeout', ${options.lockTimeout}, true),
                  set_config('idle_in_transaction_session_timeout', ${options.idleTimeout}, true)`.pipe(
                Effect.andThen(self)
              )
            )
            .pipe(
              Effect.updateContext(
                (context: Context.Context<R>) => Context.omit(sql.transactionService)(context) as Context.Context<R>
              )
            )

      const inTenant =
        (tenantId: TenantId) =>
        <A, R>(self: Effect.Effect<A, SqlError.SqlError, R>) =>
          self.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))

      const toStored = (tenantId: TenantId, raw: unknown) =>
        Effect.gen(function* () {
          const row = yield* decodeRow(raw).pipe(Effect.mapError(corrupt("oauth_tokens")))
          const version = row.version
          const pending = yield* sql<{ id: string }>`SELECT id, ciphertext, iv, wrapped_key, key_id
              FROM oauth_pending_tokens WHERE connection_id = ${row.connectionId} AND base_version >= ${version}
              ORDER BY base_version DESC, created_at DESC`
          const pendingSealed = yield* Effect.forEach(pending, (p) =>
            decodeSealed(p).pipe(
              Effect.map((sealed) => ({ id: p.id, sealed })),
              Effect.mapError(corrupt("oauth_pending_tokens"))
            )
          )
          return {
            tenantId,
            connectionId: row.connectionId,
            venueId: row.venueId,
            provider: row.provider,
            status: row.status,
            version,
            lifecycle: {
              obtainedAt: row.obtainedAt,
              expiresAt: row.expiresAt,
              refreshTokenExpiresAt: row.refreshExpiresAt,
              hasRefreshToken: row.hasRefreshToken,
              scopes: row.scopes,
              extra: row.extra
            },
            accessToken: new SealedSecret({
              ciphertext: row.aCiphertext,
              iv: row.aIv,
              wrappedKey: row.aWrappedKey,
              keyId: row.aKeyId
            }),
            refreshToken:
              row.rCiphertext === null || row.rIv === null || row.rWrappedKey === null || row.rKeyId === null
                ? null
                : new SealedSecret({
                    ciphertext: row.rCiphertext,
                    iv: row.rIv,
                    wrappedKey: row.rWrappedKey,
                    keyId: row.rKeyId
                  }),
            pending: pendingSealed
          } satisfies StoredTokens
        })

      const select = (tenantId: TenantId, connectionId: ConnectionId, forUpdate: boolean) =>
        Effect.gen(function* () {
          // Lock first, read after: in READ COMMITTED a statement that waited for the lock would
          // still see the credentials rows of its own, older snapshot.
          if (forUpdate) yield* sql`SELECT 1 FROM oauth_tokens WHERE connection_id = ${connectionId} FOR NO KEY UPDATE`
          const rows = yield* sql.unsafe(`${tokenSelect}$1`, [connectionId])
          return rows[0] === undefined ? Option.none<StoredTokens>() : Option.some(yield* toStored(tenantId, rows[0]))
        })

      const read = Effect.fn("PostgresTokenStore.read")(function* (tenantId: TenantId, connectionId: ConnectionId) {
        return yield* select(tenantId, connectionId, false).pipe(
          withTenant(sql, tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const locked = <A, E, R>(
        tenantId: TenantId,
        connectionId: ConnectionId,
        body: (current: Option.Option<StoredTokens>) => Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | StoreUnavailable, R> =>
        Effect.gen(function* () {
          const current = yield* select(tenantId, connectionId, true).pipe(
            Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
          )
          return yield* body(current)
        }).pipe(
          ownTransaction(tenantId),
          Effect.catchIf(
            (e): e is SqlError.SqlError => e instanceof SqlError.SqlError,
            (e) => Effect.fail(unavailable(e))
          ),
          Effect.withSpan("PostgresTokenStore.locked", { attributes: { "connection.id": connectionId } })
        ) as Effect.Effect<A, E | StoreUnavailable, R>

      const savePending = Effect.fn("PostgresTokenStore.savePending")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        baseVersion: number,
        sealed: SealedSecret
      ) {
        const id = crypto.randomUUID()
        yield* sql`INSERT INTO oauth_pending_tokens (id, tenant_id, connection_id, base_version, ciphertext, iv,
              wrapped_key, key_id)
            VALUES (${id}, ${tenantId}, ${connectionId}, ${baseVersion}, ${sealed.ciphertext}, ${sealed.iv},
              ${sealed.wrappedKey}, ${sealed.keyId})`.pipe(ownTransaction(tenantId), Effect.mapError(unavailable))
        return id
      })

      const upsertSecret = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        venueId: VenueId,
        provider: OAuthProviderName,
        field: CredentialField,
        sealed: SealedSecret,
        expiresAt: Date | null
      ) => sql`
          INSERT INTO credentials (tenant_id, connection_id, venue_id, provider, field, ciphertext, iv, wrapped_key,
            key_id, expires_at, updated_at)
          VALUES (${tenantId}, ${connectionId}, ${venueId}, ${provider}, ${field}, ${sealed.ciphertext}, ${sealed.iv},
            ${sealed.wrappedKey}, ${sealed.keyId}, ${expiresAt}, now())
          ON CONFLICT (tenant_id, venue_id, provider, field) DO UPDATE SET
            connection_id = EXCLUDED.connection_id, ciphertext = EXCLUDED.ciphertext, iv = EXCLUDED.iv,
            wrapped_key = EXCLUDED.wrapped_key, key_id = EXCLUDED.key_id, expires_at = EXCLUDED.expires_at,
            updated_at = EXCLUDED.updated_at`

      const writeSecrets = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        venueId: VenueId,
        provider: OAuthProviderName,
        tokens: SealedTokens
      ) =>
        Effect.gen(function* () {
          yield* upsertSecret(
            tenantId,
            connectionId,
            venueId,
            provider,
            "access_token",
            tokens.accessToken,
            tokens.lifecycle.expiresAt
          )
          if (tokens.refreshToken !== null)
            yield* upsertSecret(
              tenantId,
              connectionId,
              venueId,
              provider,
              "refresh_token",
              tokens.refreshToken,
              tokens.lifecycle.refreshTokenExpiresAt
            )
          else if (!tokens.lifecycle.hasRefreshToken)
            yield* sql`DELETE FROM credentials WHERE connection_id = ${connectionId} AND field = 'refresh_token'`
        })

      const lifecycleColumns = (tokens: SealedTokens) => ({
        obtainedAt: tokens.lifecycle.obtainedAt,
        expiresAt: tokens.lifecycle.expiresAt,
        refreshExpiresAt: tokens.lifecycle.refreshTokenExpiresAt,
        hasRefreshToken: tokens.lifecycle.hasRefreshToken,
        renewAt: tokens.renewAt,
        scopes: [...tokens.lifecycle.scopes],
        extra: JSON.stringify(tokens.lifecycle.extra)
      })

      const replace = Effect.fn("PostgresTokenStore.replace")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        expectedVersion: number,
        tokens: SealedTokens
      ) {
        yield* Effect.gen(function* () {
          const l = lifecycleColumns(tokens)
          const [row] = yield* sql<{ venueId: VenueId; provider: OAuthProviderName }>`
              UPDATE oauth_tokens t SET version = t.version + 1, obtained_at = ${l.obtainedAt},
                expires_at = ${l.expiresAt}, refresh_expires_at = ${l.refreshExpiresAt},
                has_refresh_token = ${l.hasRefreshToken}, renew_at = ${l.renewAt}, scopes = ${l.scopes},
                extra = ${l.extra}::jsonb, last_refresh_error = NULL, updated_at = now()
              FROM connections c
              WHERE t.connection_id = ${connectionId} AND t.version = ${expectedVersion}
                AND c.tenant_id = t.tenant_id AND c.id = t.connection_id
              RETURNING c.venue_id, c.provider`
          if (row === undefined)
            return yield* new StoreUnavailable({ message: "the token pair changed under its lock" })
          yield* writeSecrets(tenantId, connectionId, row.venueId, row.provider, tokens).pipe(
            Effect.mapError(unavailable)
          )
          yield* sql`DELETE FROM oauth_pending_tokens WHERE connection_id = ${connectionId}`.pipe(
            Effect.mapError(unavailable)
          )
        }).pipe(
          withTenant(sql, tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const markNeedsReauth = Effect.fn("PostgresTokenStore.markNeedsReauth")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        reason: string,
        at: Date
      ) {
        yield* Effect.gen(function* () {
          yield* sql`UPDATE connections SET status = 'needs_reauth', last_error = ${reason}, updated_at = ${at}
              WHERE id = ${connectionId}`
          yield* sql`UPDATE oauth_tokens SET last_refresh_error = ${reason}, renew_at = NULL, updated_at = ${at}
              WHERE connection_id = ${connectionId}`
        }).pipe(inTenant(tenantId))
      })

      const saveGrant = Effect.fn("PostgresTokenStore.saveGrant")(function* (
        connection: Connection,
        tokens: SealedTokens
      ) {
        const c = connection
        const provider = c.provider as OAuthProviderName
        return yield* Effect.gen(function* () {
          // The unique (tenant, venue, provider) decides the row, so a reconnect keeps the id and history.
          const [saved] = yield* sql<{ id: ConnectionId; createdAt: Date }>`
              INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id, account_name,
                livemode, last_error, connected_at, disconnected_at, created_at, updated_at)
              VALUES (${c.id}, ${c.tenantId}, ${c.venueId}, ${c.provider}, ${c.authType}, ${c.status}, ${c.accountId},
                ${c.accountName}, ${c.livemode}, ${c.lastError}, ${c.connectedAt}, ${c.disconnectedAt},
                ${c.createdAt}, ${c.updatedAt})
              ON CONFLICT (tenant_id, venue_id, provider) DO UPDATE SET
                auth_type = EXCLUDED.auth_type, status = EXCLUDED.status, account_id = EXCLUDED.account_id,
                account_name = EXCLUDED.account_name, livemode = EXCLUDED.livemode, last_error = EXCLUDED.last_error,
                connected_at = EXCLUDED.connected_at, disconnected_at = EXCLUDED.disconnected_at,
                updated_at = EXCLUDED.updated_at
              RETURNING id, created_at`
          const id = saved!.id
          // Waits for a refresh in flight on the old pair, so it cannot land over the new one.
          const [previous] = yield* sql<{ version: number }>`
              SELECT version FROM oauth_tokens WHERE connection_id = ${id} FOR NO KEY UPDATE`
          yield* writeSecrets(c.tenantId, id, c.venueId, provider, tokens)
          const l = lifecycleColumns(tokens)
          const version = previous === undefined ? 1 : previous.version + 1
          yield* sql`
              INSERT INTO oauth_tokens (tenant_id, connection_id, provider, version, obtained_at, expires_at,
                refresh_expires_at, has_refresh_token, renew_at, scopes, extra, updated_at)
              VALUES (${c.tenantId}, ${id}, ${provider}, ${version}, ${l.obtainedAt}, ${l.expiresAt},
                ${l.refreshExpiresAt}, ${l.hasRefreshToken}, ${l.renewAt}, ${l.scopes}, ${l.extra}::jsonb, now())
              ON CONFLICT (tenant_id, connection_id) DO UPDATE SET
                version = EXCLUDED.version, obtained_at = EXCLUDED.obtained_at, expires_at = EXCLUDED.expires_at,
                refresh_expires_at = EXCLUDED.refresh_expires_at, has_refresh_token = EXCLUDED.has_refresh_token,
                renew_at = EXCLUDED.renew_at, scopes = EXCLUDED.scopes, extra = EXCLUDED.extra,
                last_refresh_error = NULL, updated_at = EXCLUDED.updated_at`
          yield* sql`DELETE FROM oauth_pending_tokens WHERE connection_id = ${id}`
          yield* sql`INSERT INTO integration_health (tenant_id, connection_id, status)
              VALUES (${c.tenantId}, ${id}, 'unknown') ON CONFLICT (tenant_id, connection_id) DO NOTHING`
          return new Connection({ ...c, id, createdAt: saved!.createdAt })
        }).pipe(ownTransaction(c.tenantId), Effect.mapError(unavailable))
      })

      const remove = Effect.fn("PostgresTokenStore.remove")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        at: Date
      ) {
        yield* Effect.gen(function* () {
          yield* sql`SELECT 1 FROM oauth_tokens WHERE connection_id = ${connectionId} FOR UPDATE`
          yield* sql`DELETE FROM oauth_tokens WHERE connection_id = ${connectionId}`
          yield* sql`DELETE FROM credentials WHERE connection_id = ${connectionId}`
          yield* sql`UPDATE connections SET status = 'disconnected', disconnected_at = ${at}, updated_at = ${at},
              last_error = NULL WHERE id = ${connectionId}`
        }).pipe(ownTransaction(tenantId), Effect.mapError(unavailable))
      })

      const due = Effect.fn("PostgresTokenStore.due")(function* (before: Date, limit: number) {
        const rows = yield* sql`SELECT tenant_id, connection_id FROM oauth_tokens_due(${before}, ${limit})`.pipe(
          Effect.mapError(unavailable)
        )
        return yield* decodeDue(rows).pipe(Effect.mapError(corrupt("oauth_tokens_due")))
      })

      return TokenStore.of({ read, locked, savePending, replace, markNeedsReauth, saveGrant, remove, due })
    })
  )

export const PostgresTokenStore = { make, layer: make() }
