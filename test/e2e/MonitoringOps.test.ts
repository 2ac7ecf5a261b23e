import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Redis } from "effect/persistence"
import type { SqlClient } from "effect/sql"
import { IoRedis } from "../../adapters/redis/IoRedis.ts"
import { settled, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"

const tenantA = "a0000000-0000-4000-8000-0000000000a1"
const tenantB = "a0000000-0000-4000-8000-0000000000b2"
const venueA = "a0000000-1111-4000-8000-0000000000a1"
const venueB = "a0000000-1111-4000-8000-0000000000b2"
const adminA: Caller = { sub: "alice", tenantId: tenantA, venueIds: [], role: "admin" }
const adminB: Caller = { sub: "bob", tenantId: tenantB, venueIds: [], role: "admin" }
const viewerA: Caller = { tenantId: tenantA, venueIds: [venueA], role: "viewer" }
const operator: Caller = {
  sub: "sre-1",
  tenantId: "a0000000-0000-4000-8000-0000000000ff",
  venueIds: [],
  role: "operator"
}
const base = "/api/v1/integrations"

const owner = <A>(query: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(OwnerSql, query).pipe(Effect.orDie)

const connectStripe = (caller: Caller, venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_mon${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    stripe.seed(accountId, "customer", 20)
    return { accountId, connectionId: done.body.id as string }
  })

const breakers = (caller: Caller) =>
  Effect.map(call("GET", "/monitoring/circuit-breakers", { caller }), (r) => {
    assert.strictEqual(r.status, 200, r.text)
    return r.body.breakers as ReadonlyArray<any>
  })

// Three failed calls in a row open a connection's breaker for ten minutes; no retries to wait through.
const app = syncAppWith({ SYNC_BREAKER_FAILURES: "3", SYNC_BREAKER_OPEN: "10 minutes", SYNC_RETRY_ATTEMPTS: "0" })

layer(OwnerSql.layer.pipe(Layer.provideMerge(app)), { timeout: "180 seconds", excludeTestServices: true })(
  "monitoring routes",
  (it) => {
    it.effect("a 5xx storm opens the connection's breaker; it is listed open, and the reset closes it", () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const a = yield* connectStripe(adminA, venueA)
        yield* connectStripe(adminB, venueB)
        const name = `connection:${a.connectionId}`
        stripe.inject({ status: 503 })
        const started = yield* startSync("stripe", adminA, { venueId: venueA, mode: "full" })
        assert.strictEqual(started.status, 202, started.text)
        let open: any
        const until = Date.now() + 30_000
        while (open === undefined) {
          open = (yield* breakers(adminA)).find((b) => b.name === name && b.state === "open")
          if (open === undefined && Date.now() > until) assert.fail("the breaker never opened")
          yield* Effect.sleep("200 millis")
        }
        assert.strictEqual(open.venueId, venueA)
        assert.isAbove(open.retryAfterSeconds, 60)
        // Every provider's breaker is listed; B's admin does not see A's connection.
        const seenByB = yield* breakers(adminB)
        assert.deepStrictEqual(
          seenByB.filter((b) => b.scope === "provider").map((b) => b.name),
          ["provider:stripe", "provider:square", "provider:mailchimp", "provider:quickbooks"]
        )
        assert.isUndefined(seenByB.find((b) => b.name === name))
        assert.isDefined((yield* breakers(operator)).find((b) => b.name === name && b.state === "open"))

        const path = `/monitoring/circuit-breakers/${encodeURIComponent(name)}/reset`
        assert.strictEqual((yield* call("POST", path)).status, 401)
        assert.strictEqual((yield* call("POST", path, { caller: viewerA })).status, 403)
        assert.strictEqual((yield* call("POST", path, { caller: adminB })).status, 422)
        const providerReset = `/monitoring/circuit-breakers/${encodeURIComponent("provider:stripe")}/reset`
        assert.strictEqual((yield* call("POST", providerReset, { caller: adminA })).status, 403)
        assert.strictEqual((yield* call("POST", providerReset, { caller: operator })).status, 200)

        stripe.clearInjections()
        const reset = yield* call("POST", path, { caller: adminA })
        assert.strictEqual(reset.status, 200, reset.text)
        assert.deepStrictEqual([reset.body.previous, reset.body.state], ["open", "closed"])
        assert.isUndefined((yield* breakers(adminA)).find((b) => b.name === name))
        // Closed now: the waiting jobs run at once instead of after ten minutes.
        yield* owner((sql) => sql`UPDATE sync_jobs SET run_after = now() WHERE tenant_id = ${tenantA}`)
        yield* call("POST", `${base}/admin/recover-stale`, { caller: adminA })
        yield* call("POST", `${base}/stripe/sync`, { caller: adminA, body: { venueId: venueA, priority: "high" } })
        const entities = yield* settled("stripe", venueA, adminA, 60_000)
        assert.isTrue(
          entities.every((e) => e.state === "completed"),
          JSON.stringify(entities)
        )
        const actions = yield* owner(
          (sql) => sql<{ actor: string; request: any }>`SELECT actor, request FROM operator_actions
            WHERE action = 'circuit-breaker-reset' ORDER BY id`
        )
        assert.deepStrictEqual(
          actions.map((x) => [x.actor, x.request.name]),
          [
            ["sre-1", "provider:stripe"],
            ["alice", name]
          ]
        )
      })
    )

    it.effect("performance: per operation calls, success rate and p50/p95/p99; 403 below admin", () =>
      Effect.gen(function* () {
        assert.strictEqual((yield* call("GET", "/monitoring/performance")).status, 401)
        assert.strictEqual((yield* call("GET", "/monitoring/performance", { caller: viewerA })).status, 403)
        const perf = yield* call("GET", "/monitoring/performance", { caller: adminA })
        assert.strictEqual(perf.status, 200, perf.text)
        const stripe = perf.body.operations.filter((o: any) => o.provider === "stripe")
        assert.isAtLeast(stripe.length, 1, perf.text)
        for (const o of stripe) {
          assert.isAbove(o.calls, 0)
          assert.isAtLeast(o.successRate, 0)
          assert.isAtMost(o.successRate, 1)
          assert.isAtMost(o.p50Ms, o.p95Ms)
          assert.isAtMost(o.p95Ms, o.p99Ms)
        }
        assert.isTrue(
          stripe.some((o: any) => o.successRate < 1),
          "the storm's failures count"
        )
        assert.isAtMost(perf.body.slowest.length, 5)
      })
    )

    it.effect("metrics: each account's budget and its use, for the accounts of the caller's connections", () =>
      Effect.gen(function* () {
        assert.strictEqual((yield* call("GET", "/monitoring/metrics")).status, 401)
        assert.strictEqual((yield* call("GET", "/monitoring/metrics", { caller: viewerA })).status, 403)
        const budgets = (caller: Caller) =>
          Effect.map(call("GET", "/monitoring/metrics", { caller }), (r) => {
            assert.strictEqual(r.status, 200, r.text)
            return r.body.budgets as ReadonlyArray<any>
          })
        const ownA = yield* budgets(adminA)
        const stripeA = ownA.find((b) => b.provider === "stripe")
        assert.isDefined(stripeA, JSON.stringify(ownA))
        // The storm's sync made calls under the test's Stripe budget (1,000 a second).
        assert.deepStrictEqual([stripeA.limit, stripeA.windowMillis], [1000, 1000])
        assert.isAbove(stripeA.calls, 0)
        assert.isAtLeast(stripeA.waitedMillis, 0)
        assert.isBelow(stripeA.steadyPerSecond, 1000)
        const [connectionA] = stripeA.connectionIds
        assert.strictEqual(stripeA.connectionIds.length, 1)
        assert.isUndefined(
          (yield* budgets(adminB)).find((b) => b.connectionIds.includes(connectionA)),
          "B's admin does not see A's account"
        )
        assert.isDefined((yield* budgets(operator)).find((b) => b.account === stripeA.account))
      })
    )

    it.effect("dlq: counts by provider and reason, failure patterns, reviewed ones apart; per tenant", () =>
      Effect.gen(function* () {
        const jobs = yield* owner(
          (sql) => sql<{ id: string; tenantId: string }>`SELECT id, tenant_id FROM sync_jobs
            WHERE status = 'completed' ORDER BY created_at`
        )
        const ofA = jobs.filter((j) => j.tenantId === tenantA).slice(0, 3)
        assert.strictEqual(ofA.length, 3)
        yield* owner(
          (
            sql
          ) => sql`UPDATE sync_jobs SET status = 'dead', last_error = 'stripe answered 500 for req_' || md5(id::text)
            WHERE id IN ${sql.in(ofA.map((j) => j.id))}`
        )
        assert.strictEqual((yield* call("GET", "/monitoring/dlq", { caller: viewerA })).status, 403)
        const dlq = yield* call("GET", "/monitoring/dlq", { caller: adminA })
        assert.strictEqual(dlq.status, 200, dlq.text)
        assert.strictEqual(dlq.body.total, 3)
        assert.deepStrictEqual(dlq.body.byProvider, [{ kind: "sync", provider: "stripe", count: 3 }])
        assert.strictEqual(dlq.body.byReason.length, 3)
        assert.deepStrictEqual(dlq.body.topPatterns, [
          { kind: "sync", pattern: "stripe answered # for <id>", count: 3 }
        ])
        assert.strictEqual((yield* call("GET", "/monitoring/dlq", { caller: adminB })).body.total, 0)

        const body = { kind: "sync", id: ofA[0]!.id, note: "account closed at Stripe; ask the venue" }
        assert.strictEqual((yield* call("POST", "/monitoring/dlq/review", { caller: adminB, body })).status, 422)
        const reviewed = yield* call("POST", "/monitoring/dlq/review", { caller: operator, body })
        assert.strictEqual(reviewed.status, 200, reviewed.text)
        assert.strictEqual(reviewed.body.tenantId, tenantA)
        const after = yield* call("GET", "/monitoring/dlq", { caller: adminA })
        assert.deepStrictEqual(
          after.body.underReview.map((r: any) => [r.id, r.note, r.reviewedBy]),
          [[ofA[0]!.id, body.note, "operator:sre-1"]]
        )
        assert.notInclude(
          after.body.deadLetters.map((r: any) => r.id),
          ofA[0]!.id
        )
        assert.strictEqual(after.body.deadLetters.length, 2)
      })
    )

    it.effect("readiness stays open; the deep check probes every provider's host and is for admins and operators", () =>
      Effect.gen(function* () {
        const ready = yield* call("GET", "/monitoring/health/ready")
        assert.strictEqual(ready.status, 200, ready.text)
        assert.strictEqual((yield* call("GET", "/monitoring/health/deep", { caller: viewerA })).status, 403)
        const deep = yield* call("GET", "/monitoring/health/deep", { caller: operator })
        assert.strictEqual(deep.status, 200, deep.text)
        for (const provider of ["stripe", "square", "quickbooks", "mailchimp"])
          assert.strictEqual(deep.body.checks[`provider.${provider}`], "ok", deep.text)
      })
    )
  }
)

// The same storm with REDIS_URL set: breakers live on Redis (every process sees them), the reset deletes the circuit
// there. Its own prefixes keep it apart from other tests; the keys go at the end.
const redisPrefix = `it-breakers-${Date.now().toString(36)}:`
const breakerPrefix = `${redisPrefix}breaker:`
const onRedis = syncAppWith({
  SYNC_BREAKER_FAILURES: "3",
  SYNC_BREAKER_OPEN: "10 minutes",
  SYNC_RETRY_ATTEMPTS: "0",
  REDIS_URL: "redis://127.0.0.1:6379",
  REDIS_QUEUE_PREFIX: `${redisPrefix}queue:`,
  RATE_LIMIT_PREFIX: `${redisPrefix}rate:`,
  CIRCUIT_BREAKER_PREFIX: breakerPrefix
})

/** The breaker keys on Redis, read with a client of the test's own (as another process would). */
const redisKeys = (pattern: string) =>
  Effect.gen(function* () {
    const redis = yield* Redis.Redis
    const keys: Array<string> = []
    let cursor = "0"
    do {
      const [next, found] = yield* redis.send<[string, Array<string>]>("SCAN", cursor, "MATCH", pattern)
      cursor = next
      keys.push(...found)
    } while (cursor !== "0")
    return keys
  }).pipe(Effect.provide(IoRedis.layer({ url: Redacted.make("redis://127.0.0.1:6379") })), Effect.scoped, Effect.orDie)

layer(onRedis, { timeout: "180 seconds", excludeTestServices: true })("monitoring routes, breakers on Redis", (it) => {
  it.effect("a 5xx storm opens the connection's breaker on Redis; the reset deletes it there and it reads closed", () =>
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const keys = yield* redisKeys(`${redisPrefix}*`)
          if (keys.length > 0)
            yield* Effect.gen(function* () {
              yield* (yield* Redis.Redis).send("DEL", ...keys)
            }).pipe(Effect.provide(IoRedis.layer({ url: Redacted.make("redis://127.0.0.1:6379") })), Effect.scoped)
        }).pipe(Effect.ignore)
      )
      const { stripe } = yield* TestWorld
      const a = yield* connectStripe(adminA, venueA)
      const name = `connection:${a.connectionId}`
      stripe.inject({ status: 503 })
      const started = yield* startSync("stripe", adminA, { venueId: venueA, mode: "full" })
      assert.strictEqual(started.status, 202, started.text)
      const until = Date.now() + 30_000
      while ((yield* breakers(adminA)).find((b) => b.name === name && b.state === "open") === undefined) {
        if (Date.now() > until) assert.fail("the breaker never opened")
        yield* Effect.sleep("200 millis")
      }
      const circuit = (yield* redisKeys(`${breakerPrefix}*`)).filter((k) => k.includes(a.connectionId))
      assert.isAtLeast(circuit.length, 1, "the open circuit is on Redis")

      stripe.clearInjections()
      const reset = yield* call("POST", `/monitoring/circuit-breakers/${encodeURIComponent(name)}/reset`, {
        caller: adminA
      })
      assert.strictEqual(reset.status, 200, reset.text)
      assert.deepStrictEqual([reset.body.previous, reset.body.state], ["open", "closed"])
      assert.deepStrictEqual(
        (yield* redisKeys(`${breakerPrefix}*`)).filter((k) => k.includes(a.connectionId)),
        [],
        "the circuit is gone from Redis, for every process"
      )
      assert.isUndefined((yield* breakers(adminA)).find((b) => b.name === name))
      assert.isUndefined((yield* breakers(operator)).find((b) => b.name === name && b.state === "open"))
    })
  )
})
