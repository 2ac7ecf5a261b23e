import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { MemoryConnectionSettingsStore } from "../../adapters/memory/MemoryConnectionSettingsStore.ts"
import { MemoryConnectionStore } from "../../adapters/memory/MemoryConnectionStore.ts"
import { PostgresConnectionSettingsStore } from "../../adapters/postgres/PostgresConnectionSettingsStore.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { VenueId } from "../../domain/Ids.ts"
import { ConnectionSettingsStore } from "../../ports/ConnectionSettingsStore.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { connection, sealed, tenantA, tenantB } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

/** A Mailchimp connection of a fresh venue, saved through the connection store beside the settings. */
const connected = (tenantId = tenantA) =>
  Effect.gen(function* () {
    const c = connection(tenantId, VenueId.make(crypto.randomUUID()), "mailchimp")
    yield* (yield* ConnectionStore).saveConnected(c, [])
    return c
  })

const webhookSecret = (c: ReturnType<typeof connection>) =>
  new SecretPlace({ tenantId: c.tenantId, venueId: c.venueId, provider: c.provider, field: "webhook_secret" })

const contract = (name: string, stores: Layer.Layer<ConnectionSettingsStore | ConnectionStore>) =>
  layer(stores, { timeout: "60 seconds" })(`ConnectionSettingsStore contract: ${name}`, (it) => {
    it.effect("a connection with no settings reads as {}; set, read back, cleared", () =>
      Effect.gen(function* () {
        const settings = yield* ConnectionSettingsStore
        const c = yield* connected()
        assert.deepStrictEqual(yield* settings.read(tenantA, c.id), {})
        yield* settings.update(c, { listId: "5b3a7e9c21" }, [])
        assert.deepStrictEqual(yield* settings.read(tenantA, c.id), { listId: "5b3a7e9c21" })
        yield* settings.update(c, { listId: "a1f0c3d2e4" }, [])
        assert.deepStrictEqual(yield* settings.read(tenantA, c.id), { listId: "a1f0c3d2e4" })
        yield* settings.update(c, {}, [])
        assert.deepStrictEqual(
          yield* settings.read(tenantA, c.id),
          { listId: "a1f0c3d2e4" },
          "nothing asked, nothing changed"
        )
        yield* settings.update(c, { listId: null }, [])
        assert.deepStrictEqual(yield* settings.read(tenantA, c.id), {})
      })
    )

    it.effect(
      "the sealed fields that come with a setting are saved with it, where the connection store finds them",
      () =>
        Effect.gen(function* () {
          const settings = yield* ConnectionSettingsStore
          const connections = yield* ConnectionStore
          const c = yield* connected()
          yield* settings.update(c, { listId: "5b3a7e9c21" }, [{ field: "webhook_secret", sealed: sealed(7) }])
          const first = yield* connections.secret(webhookSecret(c)).pipe(Effect.map(Option.getOrThrow))
          assert.deepStrictEqual([...first.ciphertext], [7, 1, 2, 3])
          yield* settings.update(c, { listId: "a1f0c3d2e4" }, [{ field: "webhook_secret", sealed: sealed(8) }])
          const second = yield* connections.secret(webhookSecret(c)).pipe(Effect.map(Option.getOrThrow))
          assert.deepStrictEqual([...second.ciphertext], [8, 1, 2, 3])
          const found = yield* connections.find(tenantA, c.venueId, "mailchimp").pipe(Effect.map(Option.getOrThrow))
          assert.strictEqual(found.status, "connected", "the connection itself is left as it was")
        })
    )

    it.effect("another tenant neither reads nor changes them", () =>
      Effect.gen(function* () {
        const settings = yield* ConnectionSettingsStore
        const connections = yield* ConnectionStore
        const c = yield* connected(tenantB)
        yield* settings.update(c, { listId: "5b3a7e9c21" }, [])
        assert.deepStrictEqual(yield* settings.read(tenantA, c.id), {})
        yield* settings.update({ ...c, tenantId: tenantA }, { listId: null }, [
          { field: "webhook_secret", sealed: sealed(9) }
        ])
        assert.deepStrictEqual(yield* settings.read(tenantB, c.id), { listId: "5b3a7e9c21" })
        assert.isTrue(Option.isNone(yield* connections.secret(webhookSecret(c))))
        assert.isTrue(
          Option.isNone(yield* connections.secret(new SecretPlace({ ...webhookSecret(c), tenantId: tenantA })))
        )
      })
    )
  })

describe("ConnectionSettingsStore contract", () => {
  contract("memory", MemoryConnectionSettingsStore.layer.pipe(Layer.provideMerge(MemoryConnectionStore.layer)))
  contract(
    "postgres",
    Layer.mergeAll(PostgresConnectionSettingsStore.layer, PostgresConnectionStore.layer).pipe(
      Layer.provide(TestDatabase)
    )
  )
})
