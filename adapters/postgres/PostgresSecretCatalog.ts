import { Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { SecretCatalog } from "../../ports/SecretCatalog.ts"
import { type DatabaseUrls, layerOwner } from "./Database.ts"

const Row = Schema.Struct({
  tenantId: Schema.String,
  venueId: Schema.String,
  provider: Schema.String,
  field: Schema.String,
  ciphertext: Schema.Uint8Array,
  iv: Schema.Uint8Array,
  wrappedKey: Schema.Uint8Array,
  keyId: Schema.String
})
const decodeRow = Schema.decodeUnknownEffect(Row)
const decodePlace = Schema.decodeUnknownEffect(SecretPlace)
const decodeSealed = Schema.decodeUnknownEffect(SealedSecret)

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })
const corrupt = () => new StoreUnavailable({ message: "a credentials row does not decode" })

const cataloged = (raw: unknown) =>
  Effect.gen(function* () {
    const row = yield* decodeRow(raw)
    return {
      place: yield* decodePlace({
        tenantId: row.tenantId,
        venueId: row.venueId,
        provider: row.provider,
        field: row.field
      }),
      sealed: yield* decodeSealed({
        ciphertext: row.ciphertext,
        iv: row.iv,
        wrappedKey: row.wrappedKey,
        keyId: row.keyId
      })
    }
  }).pipe(Effect.mapError(corrupt))

/**
 * Every tenant's sealed secrets, for master-key rotation. It needs a pool
 * with the owner's rights (`layerOwner`) whose role bypasses row-level
 * security: with forced RLS anyone else would see no rows and rotation would
 * report a silent success, so building the layer refuses such a role.
 */
export const PostgresSecretCatalog = {
  layer: Layer.effect(
    SecretCatalog,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [role] = yield* sql<{ readonly bypasses: boolean }>`
        SELECT rolsuper OR rolbypassrls AS bypasses FROM pg_roles WHERE rolname = current_user`.pipe(
        Effect.mapError(unavailable)
      )
      if (role?.bypasses !== true)
        return yield* new StoreUnavailable({
          message: "key rotation needs a database role that bypasses row-level security (superuser or BYPASSRLS)"
        })

      const notWrappedUnder = Effect.fn("PostgresSecretCatalog.notWrappedUnder")(function* (
        keyId: string,
        limit: number
      ) {
        const rows = yield* sql`
          SELECT tenant_id, venue_id, provider, field, ciphertext, iv, wrapped_key, key_id FROM credentials
          WHERE key_id <> ${keyId}
          ORDER BY tenant_id, venue_id, provider, field
          LIMIT ${limit}`.pipe(Effect.mapError(unavailable))
        return yield* Effect.forEach(rows, cataloged)
      })

      const replaceWrappedKey = Effect.fn("PostgresSecretCatalog.replaceWrappedKey")(function* (
        place: SecretPlace,
        previous: SealedSecret,
        next: SealedSecret
      ) {
        const updated = yield* sql`
          UPDATE credentials SET wrapped_key = ${next.wrappedKey}, key_id = ${next.keyId}, updated_at = now()
          WHERE tenant_id = ${place.tenantId} AND venue_id = ${place.venueId}
            AND provider = ${place.provider} AND field = ${place.field}
            AND wrapped_key = ${previous.wrappedKey} AND key_id = ${previous.keyId}
            AND ciphertext = ${next.ciphertext} AND iv = ${next.iv}
          RETURNING 1 AS updated`.pipe(Effect.mapError(unavailable))
        return updated.length === 1
      })

      const count = Effect.fn("PostgresSecretCatalog.count")(function* (keyId: Option.Option<string>) {
        const [row] = yield* Option.match(keyId, {
          onNone: () => sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM credentials`,
          onSome: (id) => sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM credentials WHERE key_id = ${id}`
        }).pipe(Effect.mapError(unavailable))
        return row?.n ?? 0
      })

      // A full scan of credentials, ordered at random: bounded by the table, cheap next to one KMS call per row.
      const sample = Effect.fn("PostgresSecretCatalog.sample")(function* (limit: number) {
        const rows = yield* sql`
          SELECT tenant_id, venue_id, provider, field, ciphertext, iv, wrapped_key, key_id FROM credentials
          ORDER BY random()
          LIMIT ${limit}`.pipe(Effect.mapError(unavailable))
        return yield* Effect.forEach(rows, cataloged)
      })

      return SecretCatalog.of({ notWrappedUnder, replaceWrappedKey, count, sample })
    })
  ),

  /**
   * For the service's credential check: the catalog over a small owner pool that holds no connection while idle.
   * An owner that cannot read across tenants (forced RLS applies to it) gets a catalog whose every call says so,
   * instead of a failed start-up.
   */
  layerForChecks: (urls: DatabaseUrls) =>
    PostgresSecretCatalog.layer.pipe(
      Layer.provide(layerOwner(urls)),
      Layer.catchTag("StoreUnavailable", (e) => Layer.succeed(SecretCatalog, unavailableCatalog(e))),
      Layer.catchTag("SqlError", (e) => Layer.succeed(SecretCatalog, unavailableCatalog(unavailable(e))))
    )
}

const unavailableCatalog = (error: StoreUnavailable) =>
  SecretCatalog.of({
    notWrappedUnder: () => Effect.fail(error),
    replaceWrappedKey: () => Effect.fail(error),
    count: () => Effect.fail(error),
    sample: () => Effect.fail(error)
  })
