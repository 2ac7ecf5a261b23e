import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { MemoryConnectionStore } from "../../adapters/memory/MemoryConnectionStore.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { HealthCheck } from "../../domain/Health.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { connection, sealed, tenantA, tenantB, venueA1, venueA2, venueB1 } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

const place = (c: { tenantId: typeof tenantA; venueId: typeof venueA1 }, field: SecretPlace["field"] = "api_key") =>
  new SecretPlace({ tenantId: c.tenantId, venueId: c.venueId, provider: "stripe", field })

const contract = (name: string, store: Layer.Layer<ConnectionStore, never, never>) =>
  layer(store, { timeout: "60 seconds" })(name, (it) => {
    it.effect("saves a connection with its sealed key and a health row, and finds it again", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const c = connection(tenantA, venueA1)
        yield* s.saveConnected(c, [{ field: "api_key", sealed: sealed(1) }])
        const found = yield* s.find(tenantA, venueA1, "stripe").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.id, c.id)
        assert.strictEqual(found.status, "connected")
        assert.deepStrictEqual(found.createdAt, c.createdAt)
        const secret = yield* s.secret(place(c)).pipe(Effect.map(Option.getOrThrow))
        assert.deepStrictEqual([...secret.ciphertext], [1, 1, 2, 3])
        const health = yield* s.health(tenantA, c.id).pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(health.status, "unknown")
      })
    )

    it.effect("a reconnect keeps the connection id and replaces the key", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const first = connection(tenantA, venueA2)
        yield* s.saveConnected(first, [{ field: "api_key", sealed: sealed(2) }])
        yield* s.saveConnected(connection(tenantA, venueA2, "stripe", { accountId: "acct_new" }), [
          { field: "api_key", sealed: sealed(3) }
        ])
        const found = yield* s.find(tenantA, venueA2, "stripe").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.id, first.id)
        assert.strictEqual(found.accountId, "acct_new")
        const secret = yield* s.secret(place(first)).pipe(Effect.map(Option.getOrThrow))
        assert.deepStrictEqual([...secret.ciphertext], [3, 1, 2, 3])
      })
    )

    it.effect("createConnected: of concurrent connects exactly one wins; a disconnected row is taken over", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const attempts = Array.from({ length: 10 }, () => connection(tenantB, venueB1, "quickbooks"))
        const results = yield* Effect.forEach(
          attempts,
          (c) => Effect.result(s.createConnected(c, [{ field: "access_token", sealed: sealed(7) }])),
          { concurrency: "unbounded" }
        )
        const won = results.filter((r) => r._tag === "Success")
        assert.strictEqual(won.length, 1)
        assert.deepStrictEqual(
          results.filter((r) => r._tag === "Failure").map((r) => r.failure._tag),
          Array.from({ length: 9 }, () => "AlreadyConnected")
        )
        const winner = yield* s.find(tenantB, venueB1, "quickbooks").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(won[0]!.success, winner.id)

        yield* s.disconnect(tenantB, winner.id, new Date())
        const again = yield* s.createConnected(connection(tenantB, venueB1, "quickbooks"), [])
        assert.strictEqual(again, winner.id)
        const found = yield* s.find(tenantB, venueB1, "quickbooks").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "connected")
        assert.isTrue(Option.isSome(yield* s.health(tenantB, winner.id)))
      })
    )

    it.effect("another tenant sees nothing of it", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const c = connection(tenantB, venueB1)
        yield* s.saveConnected(c, [{ field: "api_key", sealed: sealed(4) }])
        assert.isTrue(Option.isNone(yield* s.find(tenantA, venueB1, "stripe")))
        assert.isTrue(Option.isNone(yield* s.secret(place({ tenantId: tenantA, venueId: venueB1 }))))
        assert.isTrue(Option.isNone(yield* s.health(tenantA, c.id)))
        const listed = yield* s.list(tenantA, Option.none())
        assert.isFalse(listed.some((x) => x.tenantId === tenantB))
        yield* s.disconnect(tenantA, c.id, new Date())
        const still = yield* s.find(tenantB, venueB1, "stripe").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(still.status, "connected")
      })
    )

    it.effect("lists by venue", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const onlyA2 = yield* s.list(tenantA, Option.some([venueA2]))
        assert.isTrue(onlyA2.length >= 1 && onlyA2.every((c) => c.venueId === venueA2))
        assert.strictEqual((yield* s.list(tenantA, Option.some([]))).length, 0)
      })
    )

    it.effect("disconnect deletes every ciphertext and keeps the row", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const c = connection(tenantA, venueA1, "square")
        const p = new SecretPlace({ tenantId: tenantA, venueId: venueA1, provider: "square", field: "access_token" })
        yield* s.saveConnected(c, [
          { field: "access_token", sealed: sealed(5) },
          { field: "refresh_token", sealed: sealed(6) }
        ])
        const at = new Date("2026-11-02T00:00:00.000Z")
        yield* s.disconnect(tenantA, c.id, at)
        assert.isTrue(Option.isNone(yield* s.secret(p)))
        assert.isTrue(Option.isNone(yield* s.secret(new SecretPlace({ ...p, field: "refresh_token" }))))
        const found = yield* s.find(tenantA, venueA1, "square").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "disconnected")
        assert.deepStrictEqual(found.disconnectedAt, at)
      })
    )

    it.effect("health counts consecutive failures and resets on success", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const c = connection(tenantA, venueA1, "mailchimp")
        yield* s.saveConnected(c, [])
        const check = (ok: boolean) =>
          s.recordHealth(
            new HealthCheck({
              tenantId: tenantA,
              connectionId: c.id,
              ok,
              latencyMs: 12,
              error: ok ? null : "boom",
              checkedAt: new Date()
            })
          )
        assert.strictEqual((yield* check(false)).status, "degraded")
        yield* check(false)
        const third = yield* check(false)
        assert.strictEqual(third.status, "unhealthy")
        assert.strictEqual(third.consecutiveFailures, 3)
        const ok = yield* check(true)
        assert.strictEqual(ok.status, "healthy")
        assert.strictEqual(ok.consecutiveFailures, 0)
        assert.isNotNull(ok.lastSuccessAt)
      })
    )

    it.effect("setStatus records the reason", () =>
      Effect.gen(function* () {
        const s = yield* ConnectionStore
        const c = connection(tenantA, venueA2, "quickbooks")
        yield* s.saveConnected(c, [])
        yield* s.setStatus(tenantA, c.id, "needs_reauth", "invalid_grant", new Date())
        const found = yield* s.find(tenantA, venueA2, "quickbooks").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "needs_reauth")
        assert.strictEqual(found.lastError, "invalid_grant")
      })
    )
  })

describe("ConnectionStore contract", () => {
  contract("memory", MemoryConnectionStore.layer)
  contract("postgres", PostgresConnectionStore.layer.pipe(Layer.provide(TestDatabase)))
})
