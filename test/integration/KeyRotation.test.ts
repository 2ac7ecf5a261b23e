import { assert, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { PostgresSecretCatalog } from "../../adapters/postgres/PostgresSecretCatalog.ts"
import { rotateMasterKey } from "../../application/RotateMasterKey.ts"
import { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { SecretCatalog } from "../../ports/SecretCatalog.ts"
import { tempDir } from "../support/TempDir.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/** The catalog on the owner's pool, as the rotation command builds it. */
const OwnerCatalog = PostgresSecretCatalog.layer.pipe(Layer.provide(Layer.effect(SqlClient.SqlClient, OwnerSql)))

/** The data directory of this test file's keyring file. */
class KeyringDir extends Context.Service<KeyringDir, string>()("integration-service/test/KeyringDir") {
  static readonly layer = Layer.effect(KeyringDir, tempDir("keyring-"))
}

/** The service as it runs: its keyring read from the file once, at start. */
const ServiceVault = EnvelopeCredentialVault.layer.pipe(
  Layer.provideMerge(Layer.unwrap(Effect.map(KeyringDir, LocalKeyring.layerFile)))
)

const Env = Layer.mergeAll(ServiceVault, OwnerSql.layer).pipe(
  Layer.provideMerge(KeyringDir.layer),
  Layer.provideMerge(TestDatabase)
)

interface Stored {
  readonly place: SecretPlace
  readonly value: string
}

const storeSecrets = Effect.fn("test.storeSecrets")(function* (tenants: number, perTenant: number) {
  const sql = yield* OwnerSql
  const vault = yield* CredentialVault
  const stored: Array<Stored> = []
  const providers: ReadonlyArray<Provider> = ["stripe", "square", "mailchimp", "quickbooks"]
  for (let t = 0; t < tenants; t++) {
    const tenantId = TenantId.make(crypto.randomUUID())
    const venueId = VenueId.make(crypto.randomUUID())
    for (const provider of providers.slice(0, perTenant)) {
      const connectionId = crypto.randomUUID()
      yield* sql`INSERT INTO connections ${sql.insert({
        id: connectionId,
        tenantId,
        venueId,
        provider,
        authType: provider === "stripe" ? "api_key" : "oauth2",
        status: "connected"
      })}`
      const field = provider === "stripe" ? "api_key" : "access_token"
      const place = new SecretPlace({ tenantId, venueId, provider, field })
      const value = `${provider}-secret-${crypto.randomUUID()}`
      const sealed = yield* vault.seal(place, Redacted.make(value))
      yield* sql`INSERT INTO credentials ${sql.insert({
        tenantId,
        connectionId,
        venueId,
        provider,
        field,
        ciphertext: sealed.ciphertext,
        iv: sealed.iv,
        wrappedKey: sealed.wrappedKey,
        keyId: sealed.keyId
      })}`
      stored.push({ place, value })
    }
  }
  return stored
})

const decodePlace = Schema.decodeUnknownSync(SecretPlace)

interface CredentialRow {
  readonly tenantId: string
  readonly venueId: string
  readonly provider: string
  readonly field: string
  readonly ciphertext: Uint8Array
  readonly iv: Uint8Array
  readonly wrappedKey: Uint8Array
  readonly keyId: string
}

/** Reads every row and opens it with the service's vault, as requests do; returns the key ids seen. */
const readAll = (sql: SqlClient.SqlClient, vault: CredentialVault["Service"], stored: ReadonlyArray<Stored>) =>
  Effect.gen(function* () {
    const rows = yield* sql<CredentialRow>`SELECT * FROM credentials`
    assert.strictEqual(rows.length, stored.length)
    const keyIds = new Set<string>()
    for (const row of rows) {
      const place = decodePlace({
        tenantId: row.tenantId,
        venueId: row.venueId,
        provider: row.provider,
        field: row.field
      })
      const sealed = new SealedSecret({
        ciphertext: row.ciphertext,
        iv: row.iv,
        wrappedKey: row.wrappedKey,
        keyId: row.keyId
      })
      const expected = stored.find((s) => s.place.tenantId === place.tenantId && s.place.provider === place.provider)
      assert.strictEqual(Redacted.value(yield* vault.open(place, sealed)), expected?.value)
      keyIds.add(row.keyId)
    }
    return keyIds
  })

layer(Env, { timeout: "60 seconds" })("master-key rotation on PostgreSQL", (it) => {
  it.effect("rotates every tenant's secrets to a new key while the service keeps reading them", () =>
    Effect.gen(function* () {
      const sql = yield* OwnerSql
      const serviceVault = yield* CredentialVault
      const keyA = (yield* KeyManagement).currentKeyId
      const stored = yield* storeSecrets(6, 4)
      assert.deepStrictEqual([...(yield* readAll(sql, serviceVault, stored))], [keyA])

      const keyB = yield* LocalKeyring.addKey(yield* KeyringDir)
      assert.notStrictEqual(keyB, keyA)

      // Before each page, the service (which has never seen key B) reads everything.
      const snapshots: Array<ReadonlySet<string>> = []
      const observedCatalog = Layer.effect(
        SecretCatalog,
        Effect.map(SecretCatalog, (catalog: SecretCatalog["Service"]) =>
          SecretCatalog.of({
            ...catalog,
            notWrappedUnder: (keyId, limit) =>
              readAll(sql, serviceVault, stored).pipe(
                Effect.tap((seen) => Effect.sync(() => snapshots.push(seen))),
                Effect.orDie,
                Effect.andThen(catalog.notWrappedUnder(keyId, limit))
              )
          })
        )
      ).pipe(Layer.provide(OwnerCatalog))
      // The rotation command: its own process, keyring re-read (B is current there), owner pool.
      const rotation = Layer.fresh(
        Layer.mergeAll(
          EnvelopeCredentialVault.layer.pipe(
            Layer.provide(Layer.unwrap(Effect.map(KeyringDir, LocalKeyring.layerFile)))
          ),
          observedCatalog
        )
      )

      let concurrentReads = 0
      const readFailures: Array<unknown> = []
      const reader = yield* readAll(sql, serviceVault, stored).pipe(
        Effect.exit,
        Effect.tap((exit) =>
          Effect.sync(() => (exit._tag === "Success" ? concurrentReads++ : readFailures.push(exit.cause)))
        ),
        Effect.forever,
        Effect.forkChild
      )
      const report = yield* rotateMasterKey(keyB, { batchSize: 5 }).pipe(Effect.provide(rotation))
      yield* Fiber.interrupt(reader)
      assert.isAbove(concurrentReads, 0)
      assert.deepStrictEqual(readFailures, [])

      assert.deepStrictEqual(report, { rewrapped: 24, skipped: 0, unreadable: 0 })
      assert.isTrue(snapshots.some((seen) => seen.has(keyA) && seen.has(keyB)))
      assert.deepStrictEqual([...(yield* readAll(sql, serviceVault, stored))], [keyB])

      const catalog = yield* Effect.provide(SecretCatalog, OwnerCatalog)
      assert.strictEqual(yield* catalog.count(Option.some(keyB)), 24)
      assert.strictEqual(yield* catalog.count(Option.some(keyA)), 0)
      const again = yield* rotateMasterKey(keyB, { batchSize: 5 }).pipe(Effect.provide(rotation))
      assert.deepStrictEqual(again, { rewrapped: 0, skipped: 0, unreadable: 0 })
    })
  )

  it.effect("replaces a wrapped key only if the row still holds what the rotation read", () =>
    Effect.gen(function* () {
      const sql = yield* OwnerSql
      const vault = yield* CredentialVault
      const catalog = yield* Effect.provide(SecretCatalog, OwnerCatalog)
      const [stored] = yield* storeSecrets(1, 1)
      const { place } = stored!
      const read = (yield* catalog.notWrappedUnder("no-such-key", 1000)).find(
        (s) => s.place.tenantId === place.tenantId
      )!
      const resealed = yield* vault.seal(place, Redacted.make("refreshed by the service"))
      yield* sql`UPDATE credentials SET ciphertext = ${resealed.ciphertext}, iv = ${resealed.iv},
        wrapped_key = ${resealed.wrappedKey}, key_id = ${resealed.keyId} WHERE tenant_id = ${place.tenantId}`
      // What the rotation would write: the same ciphertext with another wrapped key.
      const rewrapped = new SealedSecret({ ...read.sealed, wrappedKey: new Uint8Array(60), keyId: "key-b" })
      assert.isFalse(yield* catalog.replaceWrappedKey(place, read.sealed, rewrapped))
      const [row] = yield* sql<CredentialRow>`SELECT * FROM credentials WHERE tenant_id = ${place.tenantId}`
      const current = new SealedSecret({
        ciphertext: row!.ciphertext,
        iv: row!.iv,
        wrappedKey: row!.wrappedKey,
        keyId: row!.keyId
      })
      assert.strictEqual(Redacted.value(yield* vault.open(place, current)), "refreshed by the service")

      const rewrappedNow = new SealedSecret({ ...current, wrappedKey: new Uint8Array(60), keyId: "key-b" })
      assert.isTrue(yield* catalog.replaceWrappedKey(place, current, rewrappedNow))
    })
  )

  it.effect("refuses to run on a role that row-level security would blind", () =>
    Effect.gen(function* () {
      const error = yield* Layer.build(PostgresSecretCatalog.layer).pipe(Effect.flip)
      assert.strictEqual(error._tag, "StoreUnavailable")
      assert.include(error.message, "BYPASSRLS")
    })
  )
})
