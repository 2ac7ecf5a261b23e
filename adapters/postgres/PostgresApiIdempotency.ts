import { Config, Duration, Effect, Layer, Schedule } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { TenantId } from "../../domain/Ids.ts"
import {
  ApiIdempotency,
  type Claim,
  type ClaimOptions,
  type IdempotencyScope,
  type StoredResponse
} from "../../ports/ApiIdempotency.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

interface KeyRow {
  readonly fingerprint: string
  readonly status: number | null
  readonly contentType: string | null
  readonly body: Uint8Array | null
}

/**
 * Keys in `api_idempotency_keys`, each statement in the tenant's transaction. A claim is one upsert: a new key, an
 * expired one or an abandoned claim of the same request is (re)claimed under a fresh token; otherwise the row
 * another request holds is read back. Concurrent claims of one key serialise on its primary key, so one wins.
 * Expired keys of every tenant are deleted every `API_IDEMPOTENCY_PRUNE_EVERY` (default 15 minutes) through
 * `app_prune_api_idempotency` (SECURITY DEFINER; the service role itself never reads across tenants).
 */
export const PostgresApiIdempotency = {
  layer: Layer.effect(
    ApiIdempotency,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const pruneEvery = yield* Config.Duration("API_IDEMPOTENCY_PRUNE_EVERY").pipe(
        Config.withDefault(Duration.minutes(15))
      )

      const claim = Effect.fn("PostgresApiIdempotency.claim")(function* (
        scope: IdempotencyScope,
        fingerprint: string,
        options: ClaimOptions
      ) {
        const ttlMillis = Duration.toMillis(options.ttl)
        const leaseMillis = Duration.toMillis(options.lease)
        const attempt = Effect.gen(function* () {
          const token = crypto.randomUUID()
          const claimed = yield* sql<{ token: string }>`
            INSERT INTO api_idempotency_keys AS k (tenant_id, method, path, key, fingerprint, token, locked_at, expires_at)
            VALUES (${scope.tenantId}, ${scope.method}, ${scope.path}, ${scope.key}, ${fingerprint}, ${token}, now(),
              now() + ${ttlMillis} * interval '1 millisecond')
            ON CONFLICT (tenant_id, method, path, key) DO UPDATE SET
              fingerprint = excluded.fingerprint, token = excluded.token, locked_at = excluded.locked_at,
              expires_at = excluded.expires_at, status = NULL, content_type = NULL, body = NULL
            WHERE k.expires_at <= now()
              OR (k.status IS NULL AND k.fingerprint = excluded.fingerprint
                AND k.locked_at <= now() - ${leaseMillis} * interval '1 millisecond')
            RETURNING token`
          if (claimed.length > 0) return { _tag: "Claimed", token } satisfies Claim
          // The upsert waited for any concurrent claim to commit, so the row it skipped is readable now.
          const [held] = yield* sql<KeyRow>`
            SELECT fingerprint, status, content_type, body FROM api_idempotency_keys
            WHERE tenant_id = ${scope.tenantId} AND method = ${scope.method} AND path = ${scope.path}
              AND key = ${scope.key}`
          // Released between the two statements: claim again.
          if (held === undefined) return undefined
          if (held.fingerprint !== fingerprint) return { _tag: "Mismatch" } satisfies Claim
          if (held.status === null) return { _tag: "InFlight" } satisfies Claim
          const response: StoredResponse = {
            status: held.status,
            contentType: held.contentType,
            body: Uint8Array.from(held.body ?? new Uint8Array())
          }
          return { _tag: "Completed", response } satisfies Claim
        }).pipe(withTenant(sql, scope.tenantId), Effect.mapError(unavailable))
        for (;;) {
          const claimed: Claim | undefined = yield* attempt
          if (claimed !== undefined) return claimed
        }
      })

      const complete = Effect.fn("PostgresApiIdempotency.complete")(function* (
        scope: IdempotencyScope,
        token: string,
        response: StoredResponse
      ) {
        yield* sql`
          UPDATE api_idempotency_keys
          SET status = ${response.status}, content_type = ${response.contentType}, body = ${response.body}
          WHERE tenant_id = ${scope.tenantId} AND method = ${scope.method} AND path = ${scope.path}
            AND key = ${scope.key} AND token = ${token} AND status IS NULL`.pipe(
          withTenant(sql, scope.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const release = Effect.fn("PostgresApiIdempotency.release")(function* (scope: IdempotencyScope, token: string) {
        yield* sql`
          DELETE FROM api_idempotency_keys
          WHERE tenant_id = ${scope.tenantId} AND method = ${scope.method} AND path = ${scope.path}
            AND key = ${scope.key} AND token = ${token} AND status IS NULL`.pipe(
          withTenant(sql, scope.tenantId),
          Effect.mapError(unavailable)
        )
      })

      const keysHeld = Effect.fn("PostgresApiIdempotency.keysHeld")(function* (tenantId: TenantId) {
        const [row] = yield* sql<{ n: number }>`
          SELECT count(*)::integer AS n FROM api_idempotency_keys WHERE expires_at > now()`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return row?.n ?? 0
      })

      const prune = sql<{ n: number }>`SELECT app_prune_api_idempotency() AS n`.pipe(
        Effect.map(([row]) => row?.n ?? 0),
        Effect.mapError(unavailable),
        Effect.withSpan("PostgresApiIdempotency.prune")
      )

      yield* prune.pipe(
        Effect.tap((pruned) => Effect.logDebug("api idempotency keys pruned").pipe(Effect.annotateLogs({ pruned }))),
        Effect.catch((error) =>
          Effect.logWarning("api idempotency: pruning failed").pipe(
            Effect.annotateLogs({ "error.message": error.message })
          )
        ),
        Effect.repeat(Schedule.spaced(pruneEvery)),
        Effect.forkScoped
      )

      return ApiIdempotency.of({ claim, complete, release, keysHeld, prune })
    })
  )
} as const
