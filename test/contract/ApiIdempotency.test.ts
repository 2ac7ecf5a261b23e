import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { MemoryApiIdempotency } from "../../adapters/memory/MemoryApiIdempotency.ts"
import { PostgresApiIdempotency } from "../../adapters/postgres/PostgresApiIdempotency.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { ApiIdempotency, type Claim, type IdempotencyScope } from "../../ports/ApiIdempotency.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

const day = { ttl: Duration.hours(24), lease: Duration.minutes(2) }

const scopeOf = (tenantId: TenantId = tenantA, overrides: Partial<IdempotencyScope> = {}): IdempotencyScope => ({
  tenantId,
  method: "POST",
  path: "/api/v1/integrations/connect/stripe",
  key: `key-${crypto.randomUUID()}`,
  ...overrides
})

const answer = { status: 201, contentType: "application/json", body: new TextEncoder().encode('{"id":"c1"}') }

const claimed = (claim: Claim) => {
  assert.strictEqual(claim._tag, "Claimed")
  return claim._tag === "Claimed" ? claim.token : ""
}

const contract = <E>(name: string, stack: Layer.Layer<ApiIdempotency, E>) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`ApiIdempotency contract: ${name}`, (it) => {
    it.effect("a key is claimed once; a repeat is in flight until answered, then answered the same", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf()
        const token = claimed(yield* keys.claim(scope, "fp-1", day))
        assert.deepStrictEqual(yield* keys.claim(scope, "fp-1", day), { _tag: "InFlight" })
        yield* keys.complete(scope, token, answer)
        const again = yield* keys.claim(scope, "fp-1", day)
        assert.strictEqual(again._tag, "Completed")
        if (again._tag === "Completed") {
          assert.strictEqual(again.response.status, 201)
          assert.strictEqual(again.response.contentType, "application/json")
          assert.strictEqual(new TextDecoder().decode(again.response.body), '{"id":"c1"}')
        }
      })
    )

    it.effect("the key with another fingerprint is a mismatch, answered or not", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf()
        const token = claimed(yield* keys.claim(scope, "fp-1", day))
        assert.deepStrictEqual(yield* keys.claim(scope, "fp-2", day), { _tag: "Mismatch" })
        yield* keys.complete(scope, token, answer)
        assert.deepStrictEqual(yield* keys.claim(scope, "fp-2", day), { _tag: "Mismatch" })
      })
    )

    it.effect("an answer without a body is kept as an empty one", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf()
        const token = claimed(yield* keys.claim(scope, "fp", day))
        yield* keys.complete(scope, token, { status: 204, contentType: null, body: new Uint8Array() })
        assert.deepStrictEqual(yield* keys.claim(scope, "fp", day), {
          _tag: "Completed",
          response: { status: 204, contentType: null, body: new Uint8Array() }
        })
      })
    )

    it.effect("a released key can be claimed again, and the old claim can no longer settle it", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf()
        const first = claimed(yield* keys.claim(scope, "fp-1", day))
        yield* keys.release(scope, first)
        const second = claimed(yield* keys.claim(scope, "fp-2", day))
        assert.notStrictEqual(second, first)
        yield* keys.complete(scope, first, answer)
        yield* keys.release(scope, first)
        assert.deepStrictEqual(yield* keys.claim(scope, "fp-2", day), { _tag: "InFlight" })
        // An answered key is not released.
        yield* keys.complete(scope, second, answer)
        yield* keys.release(scope, second)
        assert.strictEqual((yield* keys.claim(scope, "fp-2", day))._tag, "Completed")
      })
    )

    it.effect("a key is per tenant, method and path", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf(tenantA)
        claimed(yield* keys.claim(scope, "fp", day))
        claimed(yield* keys.claim({ ...scope, tenantId: tenantB }, "other", day))
        claimed(yield* keys.claim({ ...scope, method: "PUT" }, "other", day))
        claimed(yield* keys.claim({ ...scope, path: "/api/v1/integrations/connect/square" }, "other", day))
        assert.deepStrictEqual(yield* keys.claim(scope, "other", day), { _tag: "Mismatch" })
      })
    )

    it.effect("of concurrent claims of one key exactly one wins", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const scope = scopeOf()
        const claims = yield* Effect.all(
          Array.from({ length: 8 }, () => keys.claim(scope, "fp", day)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(claims.filter((c) => c._tag === "Claimed").length, 1)
        assert.strictEqual(claims.filter((c) => c._tag === "InFlight").length, 7)
      })
    )

    it.effect("an expired key is as good as unused, is not held and is pruned", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const tenantId = crypto.randomUUID() as TenantId
        const short = { ttl: Duration.millis(300), lease: Duration.minutes(2) }
        const scope = scopeOf(tenantId)
        yield* keys.complete(scope, claimed(yield* keys.claim(scope, "fp-1", short)), answer)
        claimed(yield* keys.claim(scopeOf(tenantId), "fp", day))
        assert.strictEqual(yield* keys.keysHeld(tenantId), 2)
        yield* Effect.sleep("400 millis")
        assert.strictEqual(yield* keys.keysHeld(tenantId), 1)
        assert.isAtLeast(yield* keys.prune, 1)
        const token = claimed(yield* keys.claim(scope, "fp-2", day))
        yield* keys.complete(scope, token, { ...answer, status: 200 })
        const again = yield* keys.claim(scope, "fp-2", day)
        assert.isTrue(again._tag === "Completed" && again.response.status === 200)
        assert.strictEqual(yield* keys.keysHeld(tenantId), 2)
      })
    )

    it.effect("an unanswered claim past its lease is taken over by the same request only", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const quick = { ttl: Duration.hours(24), lease: Duration.millis(200) }
        const scope = scopeOf()
        const abandoned = claimed(yield* keys.claim(scope, "fp", quick))
        assert.deepStrictEqual(yield* keys.claim(scope, "fp", quick), { _tag: "InFlight" })
        yield* Effect.sleep("300 millis")
        assert.deepStrictEqual(yield* keys.claim(scope, "other", quick), { _tag: "Mismatch" })
        const taken = claimed(yield* keys.claim(scope, "fp", quick))
        yield* keys.complete(scope, abandoned, { ...answer, status: 202 })
        yield* keys.complete(scope, taken, answer)
        const again = yield* keys.claim(scope, "fp", quick)
        assert.isTrue(again._tag === "Completed" && again.response.status === 201)
      })
    )

    it.effect("keys held are counted per tenant", () =>
      Effect.gen(function* () {
        const keys = yield* ApiIdempotency
        const [one, two] = [crypto.randomUUID() as TenantId, crypto.randomUUID() as TenantId]
        for (let i = 0; i < 3; i++) yield* keys.claim(scopeOf(one), "fp", day)
        yield* keys.claim(scopeOf(two), "fp", day)
        assert.strictEqual(yield* keys.keysHeld(one), 3)
        assert.strictEqual(yield* keys.keysHeld(two), 1)
      })
    )
  })

describe("ApiIdempotency contract", () => {
  contract("memory", MemoryApiIdempotency.layer)
  contract("postgres", PostgresApiIdempotency.layer.pipe(Layer.provide(TestDatabase)))
})
