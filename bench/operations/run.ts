import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { appUrlFrom, layerDatabase, migrateWith } from "../../adapters/postgres/Database.ts"
import { PostgresCallLedger } from "../../adapters/postgres/PostgresCallLedger.ts"
import { PostgresConnectionActivity } from "../../adapters/postgres/PostgresConnectionActivity.ts"
import { PostgresOperationsStore } from "../../adapters/postgres/PostgresOperationsStore.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type MetricsPeriod, rangeOf, report } from "../../domain/operations/MetricsReport.ts"
import type { Provider } from "../../domain/Provider.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import { ConnectionActivity } from "../../ports/operations/ConnectionActivity.ts"
import { OperationsStore } from "../../ports/operations/OperationsStore.ts"

/**
 * The operations read path over 30 days of synthetic ledger data, in a fresh database on PG_ADMIN_URL
 * (postgres://postgres@127.0.0.1:5432/test): BENCH_CONNECTIONS (50) connections over 5 tenants, one minute row per
 * connection and minute for BENCH_DAYS (30) days plus error rows every 7th minute (as if retention had not run, so
 * the minute table is 15× its 48-hour size), the hourly and daily rollups, integration_costs, 96 sync jobs and 100 webhook
 * events per connection and day. Times, as the service role under row-level security: the metrics route's reads
 * plus its report (24h, 7d, 30d), and GET /admin/costs's reads over 30 days (a tenant's by venue and by day under
 * RLS, every tenant's by tenant and by provider on the operator's path); as the owner, the cross-tenant call
 * aggregation. Then one ledger flush of 10,000 keys. Target: < 100 ms per query.
 */
const admin = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const connectionCount = Number(process.env.BENCH_CONNECTIONS ?? 50)
const days = Number(process.env.BENCH_DAYS ?? 30)
const rounds = Number(process.env.BENCH_ROUNDS ?? 40)
const database = `bench_ops_${Date.now().toString(36)}`

const onAdmin = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    yield* sql.unsafe(statement)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(admin), maxConnections: 1 })), Effect.scoped)

const ownerUrl = (() => {
  const u = new URL(admin)
  u.pathname = `/${database}`
  return Redacted.make(u.toString())
})()

const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1)

const seed = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const started = performance.now()
  yield* sql.unsafe(`
    INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status)
    SELECT md5('c' || i)::uuid, md5('t' || (i % 5))::uuid, md5('v' || i)::uuid,
      (ARRAY['stripe', 'square', 'mailchimp', 'quickbooks'])[1 + i % 4],
      CASE WHEN i % 4 = 0 THEN 'api_key' ELSE 'oauth2' END, 'connected'
    FROM generate_series(1, ${connectionCount}) AS i`)
  // One ok row per connection and minute; a 5xx and a 429 row every 7th minute.
  yield* sql.unsafe(`
    INSERT INTO provider_call_minutes (tenant_id, connection_id, provider, operation, minute, outcome, calls,
      latency_ms, latency_max_ms, latency_buckets, bytes)
    SELECT c.tenant_id, c.id, c.provider, 'read_customer', m, o.outcome, o.calls, o.calls * 180, 2400,
      o.buckets, o.calls * 4000
    FROM connections c
    CROSS JOIN generate_series(date_trunc('minute', now()) - interval '${days} days', now(), interval '1 minute') AS m
    CROSS JOIN LATERAL (VALUES
      ('ok', 12, '{0,0,1,2,3,3,2,1,0,0,0,0,0}'::int[]),
      ('5xx', 1, '{0,0,0,0,0,0,0,0,1,0,0,0,0}'::int[]),
      ('429', 1, '{1,0,0,0,0,0,0,0,0,0,0,0,0}'::int[])
    ) AS o(outcome, calls, buckets)
    WHERE o.outcome = 'ok' OR (extract(epoch FROM m)::bigint / 60) % 7 = 0`)
  // The hourly rollup of those minutes, as the flush writes it: every minute row of an outcome has the same
  // histogram, so an hour's is that histogram times its rows.
  yield* sql.unsafe(`
    INSERT INTO provider_call_hours (tenant_id, connection_id, provider, operation, hour, outcome, calls, latency_ms,
      latency_max_ms, latency_buckets, bytes)
    SELECT tenant_id, connection_id, provider, operation, hour, outcome, calls, latency_ms, latency_max_ms,
      ARRAY(SELECT b * n FROM unnest(buckets) WITH ORDINALITY AS u(b, i) ORDER BY i), bytes
    FROM (
      SELECT tenant_id, connection_id, provider, operation, date_trunc('hour', minute, 'UTC') AS hour, outcome,
        count(*) AS n, sum(calls) AS calls, sum(latency_ms) AS latency_ms, max(latency_max_ms) AS latency_max_ms,
        min(latency_buckets) AS buckets, sum(bytes) AS bytes
      FROM provider_call_minutes GROUP BY 1, 2, 3, 4, 5, 6
    ) AS by_hour`)
  yield* sql.unsafe(`
    INSERT INTO provider_call_days (tenant_id, connection_id, provider, operation, day, outcome, calls, latency_ms,
      latency_max_ms, latency_buckets, bytes)
    SELECT c.tenant_id, c.id, c.provider, op, d::date, o.outcome, o.calls, o.calls * 180, 2400, o.buckets,
      o.calls * 4000
    FROM connections c
    CROSS JOIN generate_series(now() - interval '${days} days', now(), interval '1 day') AS d
    CROSS JOIN unnest(ARRAY['read_customer', 'read_product', 'read_order', 'read_payment', 'company_info']) AS op
    CROSS JOIN (VALUES
      ('ok', 17280, '{0,0,1440,2880,4320,4320,2880,1440,0,0,0,0,0}'::int[]),
      ('5xx', 206, '{0,0,0,0,0,0,0,0,206,0,0,0,0}'::int[]),
      ('429', 206, '{206,0,0,0,0,0,0,0,0,0,0,0,0}'::int[])
    ) AS o(outcome, calls, buckets)`)
  yield* sql.unsafe(`
    INSERT INTO integration_costs (tenant_id, connection_id, day, api_calls, cost_micros, quota_calls, worker_millis)
    SELECT c.tenant_id, c.id, d::date, 88000, CASE c.provider WHEN 'quickbooks' THEN 300000 ELSE 0 END,
      CASE c.provider WHEN 'quickbooks' THEN 86000 ELSE 0 END, 3600000
    FROM connections c CROSS JOIN generate_series(now() - interval '${days} days', now(), interval '1 day') AS d`)
  yield* sql.unsafe(`
    INSERT INTO sync_jobs (id, tenant_id, connection_id, venue_id, provider, entity_type, direction, mode, priority,
      status, idempotency_key, requested_by, created_at, started_at, finished_at, fetched)
    SELECT gen_random_uuid(), c.tenant_id, c.id, c.venue_id, c.provider, 'customer', 'inbound', 'incremental',
      'normal', CASE WHEN j % 50 = 0 THEN 'failed' ELSE 'completed' END, gen_random_uuid()::text, 'scheduler',
      t, t, t + interval '20 seconds', 40
    FROM connections c
    CROSS JOIN generate_series(1, ${96 * days}) AS j
    CROSS JOIN LATERAL (SELECT now() - j * interval '15 minutes' AS t) AS at`)
  yield* sql.unsafe(`
    INSERT INTO webhook_events (id, tenant_id, connection_id, provider, event_id, event_type, status, body, received_at)
    SELECT gen_random_uuid(), c.tenant_id, c.id, c.provider, 'evt_' || c.id || '_' || e, 'customer.updated',
      CASE WHEN e % 100 = 0 THEN 'dead' WHEN e % 40 = 0 THEN 'failed' ELSE 'processed' END,
      convert_to('{"id":"evt"}', 'UTF8'), now() - e * interval '864 seconds'
    FROM connections c CROSS JOIN generate_series(1, ${100 * days}) AS e`)
  // Settled rows, as autovacuum leaves them: the visibility map lets index-only scans skip the heap.
  yield* sql.unsafe("VACUUM ANALYZE")
  const [counts] = yield* sql<{ minutes: number; hours: number; days: number; jobs: number; events: number }>`SELECT
    (SELECT count(*)::int FROM provider_call_minutes) AS minutes, (SELECT count(*)::int FROM provider_call_hours) AS hours,
    (SELECT count(*)::int FROM provider_call_days) AS days,
    (SELECT count(*)::int FROM sync_jobs) AS jobs, (SELECT count(*)::int FROM webhook_events) AS events`
  console.log(
    `seeded in ${seconds(started)} s: ${counts?.minutes} minute rows, ${counts?.hours} hour rows, ${counts?.days} day rows, ${counts?.jobs} sync jobs, ${counts?.events} webhook events, ${connectionCount} connections`
  )
})

const percentiles = (samples: Array<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0).toFixed(1)
  return `p50 ${at(0.5)} ms  p95 ${at(0.95)} ms  max ${at(1)} ms`
}

const timed = <A, E, R>(label: string, effect: () => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    yield* effect()
    const samples: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      const started = performance.now()
      yield* effect()
      samples.push(performance.now() - started)
    }
    console.log(`${label.padEnd(56)} ${percentiles(samples)}  (${rounds} runs)`)
  })

const measure = Effect.gen(function* () {
  const activity = yield* ConnectionActivity
  const store = yield* OperationsStore
  const owner = Context.get(yield* Layer.build(PgClient.layer({ url: ownerUrl, maxConnections: 1 })), PgClient.PgClient)
  type Picked = { id: ConnectionId; tenantId: TenantId; provider: Provider }
  const ids = yield* owner<Picked>`SELECT id, tenant_id AS "tenantId", provider FROM connections`
  const pick = (i: number) => ids[i % ids.length] as Picked
  let n = 0
  for (const period of ["24h", "7d", "30d"] as ReadonlyArray<MetricsPeriod>) {
    yield* timed(`metrics ${period} (3 reads + report, RLS)`, () => {
      const c = pick(n++)
      const range = rangeOf(period, Date.now())
      return activity
        .read({
          tenantId: c.tenantId,
          connectionId: c.id,
          from: range.from,
          to: range.to,
          granularity: range.granularity
        })
        .pipe(Effect.map((rows) => report(range, rows)))
    })
  }
  // GET /admin/costs's reads (0018): a tenant admin's under RLS, an operator's through the reader path.
  const dayOf = (millis: number) => new Date(millis).toISOString().slice(0, 10)
  const range = { from: dayOf(Date.now() - (days - 1) * 86_400_000), to: dayOf(Date.now()) }
  for (const groupBy of ["venue", "day"] as const)
    yield* timed(`costs 30d by ${groupBy}, one tenant (GET /admin/costs, RLS)`, () =>
      store.costs({ _tag: "tenant", tenantId: pick(n++).tenantId }, range, groupBy)
    )
  for (const groupBy of ["tenant", "provider"] as const)
    yield* timed(`costs 30d by ${groupBy}, all tenants (operator path)`, () =>
      store.costs({ _tag: "all" }, range, groupBy)
    )
  yield* timed(
    "calls 30d, all tenants by provider+outcome (owner)",
    () =>
      owner`SELECT provider, outcome, sum(calls)::float8, app_sum_buckets(latency_buckets)
      FROM provider_call_days WHERE day >= current_date - ${days} GROUP BY 1, 2`
  )

  const ledger = yield* CallLedger
  const now = Date.now()
  const keys = new Set<string>()
  const started = performance.now()
  for (let i = 0; i < 100_000; i++) {
    const call = {
      provider: pick(i).provider,
      connectionId: pick(i).id,
      operation: `read_${Math.floor(i / 7) % 4}`,
      outcome: i % 13 === 0 ? ("5xx" as const) : ("ok" as const),
      latencyMs: i % 700,
      bytes: 2_000,
      at: now - (Math.floor(i / 10) % 50) * 60_000
    }
    keys.add(`${call.connectionId}|${call.operation}|${Math.floor(call.at / 60_000)}|${call.outcome}`)
    yield* ledger.record(call)
  }
  const recorded = performance.now()
  yield* ledger.flush
  console.log(
    `ledger: 100,000 record() in ${(recorded - started).toFixed(0)} ms; one flush of ${keys.size} keys in ${(performance.now() - recorded).toFixed(0)} ms`
  )
})

const program = Effect.gen(function* () {
  yield* onAdmin(`CREATE DATABASE ${database}`)
  yield* Effect.addFinalizer(() => onAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).pipe(Effect.ignore))
  yield* migrateWith(ownerUrl)
  yield* seed.pipe(Effect.provide(PgClient.layer({ url: ownerUrl, maxConnections: 1 })))
  yield* measure.pipe(
    Effect.provide(
      Layer.mergeAll(PostgresConnectionActivity.layer, PostgresCallLedger.layer, PostgresOperationsStore.layer).pipe(
        Layer.provideMerge(layerDatabase({ owner: ownerUrl, app: appUrlFrom(ownerUrl), maxConnections: 4 })),
        Layer.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({
              CALL_LEDGER_FLUSH_INTERVAL: "1 hour",
              // The seeded 30 days of minutes stay: retention would delete them while the queries are timed.
              CALL_LEDGER_MINUTES_KEPT: "400 days"
            })
          )
        )
      )
    )
  )
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
