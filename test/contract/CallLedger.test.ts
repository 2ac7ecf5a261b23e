import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { PostgresCallLedger, pruneCallLedger } from "../../adapters/postgres/PostgresCallLedger.ts"
import { withTenant } from "../../adapters/postgres/TenantTransaction.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { bucketOf, emptyHistogram } from "../../domain/operations/LatencyHistogram.ts"
import { CallLedger, type ProviderCall } from "../../ports/operations/CallLedger.ts"
import { postgresConnectionSetup, setUpConnection } from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

// Flushes happen when a test says so: the periodic ones are an hour apart.
const settings = ConfigProvider.layer(
  ConfigProvider.fromUnknown({ CALL_LEDGER_FLUSH_INTERVAL: "1 hour", CALL_LEDGER_PRUNE_INTERVAL: "1 hour" })
)

const ledgerLayer = PostgresCallLedger.layer.pipe(Layer.provide(settings))

const stack = Layer.mergeAll(ledgerLayer, postgresConnectionSetup, OwnerSql.layer).pipe(
  Layer.provideMerge(TestDatabase)
)

const minuteRows = (c: Connection) =>
  OwnerSql.use((owner) =>
    owner<{
      tenantId: string
      operation: string
      minute: Date
      outcome: string
      calls: number
      latencyMs: string
      latencyMaxMs: number
      latencyBuckets: ReadonlyArray<number>
      bytes: string
    }>`SELECT tenant_id, operation, minute, outcome, calls, latency_ms, latency_max_ms, latency_buckets, bytes
      FROM provider_call_minutes WHERE connection_id = ${c.id} ORDER BY minute, operation, outcome`.pipe(Effect.orDie)
  )

const dayRows = (c: Connection) =>
  OwnerSql.use((owner) =>
    owner<{ day: string; operation: string; outcome: string; calls: number }>`
      SELECT day::text AS day, operation, outcome, calls FROM provider_call_days
      WHERE connection_id = ${c.id} ORDER BY day, operation, outcome`.pipe(Effect.orDie)
  )

const hourRows = (c: Connection) =>
  OwnerSql.use((owner) =>
    owner<{ hour: Date; operation: string; outcome: string; calls: number; latencyBuckets: ReadonlyArray<number> }>`
      SELECT hour, operation, outcome, calls, latency_buckets FROM provider_call_hours
      WHERE connection_id = ${c.id} ORDER BY hour, operation, outcome`.pipe(Effect.orDie)
  )

const costRows = (c: Connection) =>
  OwnerSql.use((owner) =>
    owner<{ day: string; apiCalls: number; costMicros: string; quotaCalls: number; workerMillis: string }>`
      SELECT day::text AS day, api_calls, cost_micros, quota_calls, worker_millis FROM integration_costs
      WHERE connection_id = ${c.id} ORDER BY day`.pipe(Effect.orDie)
  )

const base = Date.parse("2026-11-30T12:00:00Z")
const call = (c: Connection, overrides: Partial<ProviderCall> = {}): ProviderCall => ({
  provider: c.provider,
  connectionId: c.id,
  operation: "read_customer",
  outcome: "ok",
  latencyMs: 100,
  bytes: 1_000,
  at: base,
  ...overrides
})

layer(stack, { timeout: "60 seconds", excludeTestServices: true })("CallLedger on PostgreSQL", (it) => {
  it.effect(
    "aggregates calls per connection, operation, minute and outcome; one flush writes minutes, days, costs",
    () =>
      Effect.gen(function* () {
        const ledger = yield* CallLedger
        const c = yield* setUpConnection(tenantA, "quickbooks")
        // 1,000 calls over two minutes and three outcomes; latencies 1..500 ms.
        for (let i = 0; i < 1_000; i++) {
          const outcome = i % 10 === 0 ? "5xx" : i % 25 === 1 ? "429" : "ok"
          yield* ledger.record(call(c, { outcome, latencyMs: (i % 500) + 1, at: base + (i % 2) * 60_000 + (i % 50) }))
        }
        yield* ledger.record(call(c, { operation: "write_customer", latencyMs: 40_000 }))
        yield* ledger.flush
        const rows = yield* minuteRows(c)
        assert.deepStrictEqual(
          rows.map((r) => [r.minute.toISOString(), r.operation, r.outcome]),
          [
            ["2026-11-30T12:00:00.000Z", "read_customer", "429"],
            ["2026-11-30T12:00:00.000Z", "read_customer", "5xx"],
            ["2026-11-30T12:00:00.000Z", "read_customer", "ok"],
            ["2026-11-30T12:00:00.000Z", "write_customer", "ok"],
            ["2026-11-30T12:01:00.000Z", "read_customer", "429"],
            ["2026-11-30T12:01:00.000Z", "read_customer", "ok"]
          ]
        )
        assert.isTrue(rows.every((r) => r.tenantId === tenantA))
        const reads = rows.filter((r) => r.operation === "read_customer")
        assert.strictEqual(
          reads.reduce((n, r) => n + r.calls, 0),
          1_000
        )
        // Every call is in its row's histogram, and the histogram's total is the row's count.
        for (const r of rows)
          assert.strictEqual(
            r.latencyBuckets.reduce((a, b) => a + b, 0),
            r.calls
          )
        const fiveXx = rows.find((r) => r.outcome === "5xx")
        assert.strictEqual(fiveXx?.calls, 100)
        // i % 10 === 0 → latencies 1, 11, …, 491: every ten, so the sum is 100 × 246.
        assert.strictEqual(Number(fiveXx?.latencyMs), 100 * 246)
        assert.strictEqual(fiveXx?.latencyMaxMs, 491)
        const slow = rows.find((r) => r.operation === "write_customer")
        const expected = emptyHistogram()
        expected[bucketOf(40_000)] = 1
        assert.deepStrictEqual(slow?.latencyBuckets, expected)
        assert.strictEqual(Number(slow?.bytes), 1_000)

        // The hourly rollup: both minutes in one hour, histograms added.
        const hours = yield* hourRows(c)
        assert.deepStrictEqual(
          hours.map((h) => [h.hour.toISOString(), h.operation, h.outcome, h.calls]),
          [
            ["2026-11-30T12:00:00.000Z", "read_customer", "429", 40],
            ["2026-11-30T12:00:00.000Z", "read_customer", "5xx", 100],
            ["2026-11-30T12:00:00.000Z", "read_customer", "ok", 860],
            ["2026-11-30T12:00:00.000Z", "write_customer", "ok", 1]
          ]
        )
        for (const h of hours)
          assert.strictEqual(
            h.latencyBuckets.reduce((a, b) => a + b, 0),
            h.calls
          )

        const days = yield* dayRows(c)
        assert.deepStrictEqual(
          days.map((d) => [d.day, d.operation, d.outcome, d.calls]),
          [
            ["2026-11-30", "read_customer", "429", 40],
            ["2026-11-30", "read_customer", "5xx", 100],
            ["2026-11-30", "read_customer", "ok", 860],
            ["2026-11-30", "write_customer", "ok", 1]
          ]
        )
        // Costs: QuickBooks reads are CorePlus (metered, 3.5 micros each); 5xx and 429 are not billed; writes are free.
        const [cost] = yield* costRows(c)
        assert.strictEqual(cost?.apiCalls, 1_001)
        assert.strictEqual(cost?.quotaCalls, 860)
        assert.strictEqual(Number(cost?.costMicros), Math.round((860 * 3_500) / 1_000))
      })
  )

  it.effect("a later flush adds to the same rows; calls of an unknown connection are dropped", () =>
    Effect.gen(function* () {
      const ledger = yield* CallLedger
      const c = yield* setUpConnection(tenantA, "stripe")
      yield* ledger.record(call(c, { latencyMs: 10 }))
      yield* ledger.flush
      yield* ledger.record(call(c, { latencyMs: 3_000, at: base + 30_000 }))
      yield* ledger.record(call(c, { connectionId: crypto.randomUUID() }))
      yield* ledger.record(call(c, { connectionId: "not-a-uuid" }))
      yield* ledger.flush
      const rows = yield* minuteRows(c)
      assert.strictEqual(rows.length, 1)
      assert.strictEqual(rows[0]?.calls, 2)
      assert.strictEqual(Number(rows[0]?.latencyMs), 3_010)
      assert.strictEqual(rows[0]?.latencyMaxMs, 3_000)
      const [cost] = yield* costRows(c)
      assert.deepStrictEqual([cost?.apiCalls, Number(cost?.costMicros), cost?.quotaCalls], [2, 0, 0])
      // Nothing was held back: a flush with nothing new writes nothing.
      yield* ledger.flush
      assert.strictEqual((yield* minuteRows(c))[0]?.calls, 2)
    })
  )

  it.effect("one flush holds several tenants; each row is its connection's tenant's, under row-level security", () =>
    Effect.gen(function* () {
      const ledger = yield* CallLedger
      const a = yield* setUpConnection(tenantA, "square")
      const b = yield* setUpConnection(tenantB, "square")
      yield* ledger.record(call(a))
      yield* ledger.record(call(b))
      yield* ledger.record(call(b))
      yield* ledger.recordWork({ connectionId: b.id, millis: 90_000, at: base })
      yield* ledger.flush
      const sql = yield* SqlClient.SqlClient
      const seen = (tenantId: TenantId) =>
        withTenant(
          sql,
          tenantId
        )(
          sql<{ connectionId: string; calls: number }>`SELECT connection_id, calls FROM provider_call_minutes
            WHERE connection_id IN (${a.id}, ${b.id})`
        ).pipe(Effect.orDie)
      assert.deepStrictEqual(
        (yield* seen(tenantA)).map((r) => [r.connectionId, r.calls]),
        [[a.id, 1]]
      )
      assert.deepStrictEqual(
        (yield* seen(tenantB)).map((r) => [r.connectionId, r.calls]),
        [[b.id, 2]]
      )
      // Worker time: 90 s at the default 6 micros per second.
      const [cost] = yield* costRows(b)
      assert.deepStrictEqual([cost?.apiCalls, Number(cost?.workerMillis), Number(cost?.costMicros)], [2, 90_000, 540])
      // The service role may not write the ledger's tables across tenants directly.
      const direct = yield* sql`INSERT INTO provider_call_minutes (tenant_id, connection_id, provider, operation,
          minute, outcome, calls, latency_ms, latency_max_ms, latency_buckets)
        VALUES (${tenantB}, ${b.id}, 'square', 'x', now(), 'ok', 1, 1, 1, '{1}')`.pipe(Effect.flip)
      assert.strictEqual(direct._tag, "SqlError")
    })
  )

  it.effect("what is held is written when the ledger's scope closes", () =>
    Effect.gen(function* () {
      const c = yield* setUpConnection(tenantA, "mailchimp")
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(Layer.fresh(ledgerLayer))
          const ledger = context.mapUnsafe.get(CallLedger.key) as CallLedger["Service"]
          yield* ledger.record(call(c, { operation: "ping" }))
        })
      )
      assert.deepStrictEqual(
        (yield* minuteRows(c)).map((r) => [r.operation, r.calls]),
        [["ping", 1]]
      )
    })
  )

  it.effect("pruning keeps 48 hours of minutes and hours and 400 days of days", () =>
    Effect.gen(function* () {
      const ledger = yield* CallLedger
      const c = yield* setUpConnection(tenantA, "stripe")
      const now = Date.now()
      const hour = 3_600_000
      for (const ago of [1 * hour, 47 * hour, 49 * hour, 72 * hour, 399 * 24 * hour, 402 * 24 * hour])
        yield* ledger.record(call(c, { at: now - ago }))
      yield* ledger.flush
      assert.strictEqual((yield* minuteRows(c)).length, 6)
      const pruned = yield* pruneCallLedger(Duration.hours(48), Duration.days(400)).pipe(Effect.orDie)
      assert.isAtLeast(pruned.minutes, 4)
      assert.isAtLeast(pruned.hours, 4)
      assert.isAtLeast(pruned.days, 1)
      const minutes = (yield* minuteRows(c)).map((r) => Math.round((now - r.minute.getTime()) / hour))
      assert.deepStrictEqual(minutes, [47, 1])
      const hours = (yield* hourRows(c)).map((r) => Math.round((now - r.hour.getTime()) / hour))
      assert.isTrue(hours.length === 2 && hours.every((h) => h <= 48), String(hours))
      const days = yield* dayRows(c)
      assert.strictEqual(days.length, 4)
      assert.isTrue(days.every((d) => Date.parse(d.day) >= now - 401 * 24 * hour))
      // Costs are billing data: not pruned.
      assert.strictEqual((yield* costRows(c)).length, 5)
    })
  )
})
