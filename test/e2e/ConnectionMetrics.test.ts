import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Ref } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder } from "effect/http-api"
import { CircuitBreaker } from "effect/persistence"
import { ApiRateLimit } from "../../adapters/http/ApiRateLimit.ts"
import { AuthorizationLive } from "../../adapters/http/AuthorizationLive.ts"
import { ConnectionMetricsGroup } from "../../adapters/http/ConnectionMetricsApi.ts"
import { ConnectionMetricsHttp } from "../../adapters/http/ConnectionMetricsHttp.ts"
import { TokenVerifierLive } from "../../adapters/main/Auth.ts"
import { RateLimiterLive } from "../../adapters/main/RateLimiting.ts"
import { PostgresCallLedger } from "../../adapters/postgres/PostgresCallLedger.ts"
import { PostgresConnectionActivity } from "../../adapters/postgres/PostgresConnectionActivity.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { ConnectionMetrics } from "../../application/operations/ConnectionMetrics.ts"
import { ProviderCalls } from "../../application/sync/ProviderCalls.ts"
import type { Connection } from "../../domain/Connection.ts"
import { TenantId } from "../../domain/Ids.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import { ProviderCallFailed } from "../../ports/sync/ProviderData.ts"
import { postgresConnectionSetup, setUpConnection } from "../support/ConnectionSetup.ts"
import { type Caller, call, jwtSecret } from "../support/TestApp.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/**
 * The metrics route over HTTP with the real JWT middleware and PostgreSQL, fed by the sync's ProviderCalls through
 * the call ledger. The group is served on its own, so that the test controls the ledger's flushes.
 */
const settings = ConfigProvider.layer(
  ConfigProvider.fromUnknown({
    JWT_SECRET: jwtSecret,
    CALL_LEDGER_FLUSH_INTERVAL: "1 hour",
    SYNC_RETRY_BASE_DELAY: "1 millis",
    SYNC_BREAKER_FAILURES: "100"
  })
)

/** The route's group alone under the service's API id: its handlers (built against the whole API) serve it as is. */
class MetricsOnlyApi extends HttpApi.make("integration-service").add(ConnectionMetricsGroup) {}

const routes = HttpApiBuilder.layer(MetricsOnlyApi).pipe(
  Layer.provide(ConnectionMetricsHttp),
  Layer.provide(AuthorizationLive.pipe(Layer.provide(ApiRateLimit.layer)))
)

const app = HttpRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(ConnectionMetrics.layer),
  Layer.provideMerge(ProviderCalls.layer),
  Layer.provideMerge(
    Layer.mergeAll(
      PostgresConnectionActivity.layer,
      PostgresConnectionStore.layer,
      PostgresCallLedger.layer,
      postgresConnectionSetup
    )
  ),
  Layer.provideMerge(Layer.mergeAll(TokenVerifierLive, RateLimiterLive, CircuitBreaker.layerStoreMemory())),
  Layer.provideMerge(OwnerSql.layer),
  Layer.provideMerge(TestDatabase),
  Layer.provide(settings)
)

const tenant = TenantId.make("cccccccc-0000-4000-8000-0000000000c1")
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const failed = (kind: ProviderCallFailed["kind"], status: number | null) =>
  new ProviderCallFailed({ provider: "quickbooks", kind, status, retryAfterMillis: 1, message: `${kind}` })

/** Sync jobs and webhook events of the connection, written as the engine and the webhook pipeline would. */
const seedJobsAndWebhooks = (c: Connection) =>
  OwnerSql.use((owner) =>
    Effect.gen(function* () {
      const job = (status: string, fetched: number, started: boolean) =>
        owner`INSERT INTO sync_jobs (id, tenant_id, connection_id, venue_id, provider, entity_type, direction, mode,
            priority, status, idempotency_key, requested_by, started_at, fetched)
          VALUES (${crypto.randomUUID()}, ${c.tenantId}, ${c.id}, ${c.venueId}, ${c.provider}, 'customer', 'inbound',
            'full', 'normal', ${status}, ${crypto.randomUUID()}, 'test', ${started ? new Date() : null}, ${fetched})`
      yield* job("completed", 120, true)
      yield* job("failed", 30, true)
      yield* job("queued", 0, false)
      for (const status of ["processed", "processed", "failed", "dead"])
        yield* owner`INSERT INTO webhook_events (id, tenant_id, connection_id, provider, event_id, event_type, status, body)
          VALUES (${crypto.randomUUID()}, ${c.tenantId}, ${c.id}, ${c.provider}, ${crypto.randomUUID()}, 'x', ${status},
            convert_to('{}', 'UTF8'))`
    })
  ).pipe(Effect.orDie)

layer(app, { timeout: "60 seconds", excludeTestServices: true })("GET /health/:provider/metrics", (it) => {
  it.effect("reports the provider calls the sync made, its runs and the connection's webhooks", () =>
    Effect.gen(function* () {
      const calls = yield* ProviderCalls
      const ledger = yield* CallLedger
      const c = yield* setUpConnection(tenant, "quickbooks")
      const target = { provider: "quickbooks" as const, account: "realm-1", connectionId: c.id }
      for (let i = 0; i < 5; i++) yield* calls.call(target, "read_customer", Effect.sleep("2 millis"))
      // A 503 retried three times: four attempts, each a 5xx.
      yield* calls.call(target, "read_invoice", Effect.fail(failed("unavailable", 503))).pipe(Effect.ignore)
      yield* calls.call(target, "read_payment", Effect.fail(failed("not_found", 404))).pipe(Effect.ignore)
      // A 429, waited out, then answered.
      const first = yield* Ref.make(true)
      yield* calls.call(
        target,
        "read_product",
        Effect.flatMap(Ref.getAndSet(first, false), (again) =>
          again ? Effect.fail(failed("rate_limited", 429)) : Effect.void
        )
      )
      // Ten days ago: only the 30-day view sees it.
      yield* ledger.record({
        provider: "quickbooks",
        connectionId: c.id,
        operation: "read_customer",
        outcome: "timeout",
        latencyMs: 30_000,
        bytes: 0,
        at: Date.now() - 10 * 86_400_000
      })
      yield* ledger.flush
      yield* seedJobsAndWebhooks(c)

      const day = yield* call("GET", `${base}/health/quickbooks/metrics?venueId=${c.venueId}&period=24h`, {
        caller: admin
      })
      assert.strictEqual(day.status, 200, day.text)
      assert.strictEqual(day.body.connectionId, c.id)
      assert.strictEqual(day.body.granularity, "hour")
      assert.strictEqual(day.body.buckets.length, 24)
      const totals = day.body.totals
      assert.deepStrictEqual(
        [totals.calls.total, totals.calls.ok, totals.calls.errors, totals.calls.rateLimited],
        [12, 6, { "4xx": 1, "429": 1, "5xx": 4, timeout: 0 }, 1]
      )
      assert.strictEqual(totals.calls.successRate, 0.5)
      assert.isNumber(totals.calls.latencyMs.p50)
      assert.isAtMost(totals.calls.latencyMs.p50, totals.calls.latencyMs.p99)
      assert.isAtMost(totals.calls.latencyMs.p99, totals.calls.latencyMs.max)
      assert.deepStrictEqual(totals.syncs, { runs: 2, failed: 1, records: 150 })
      assert.deepStrictEqual(totals.webhooks, { received: 4, failed: 1, dead: 1 })
      const current = day.body.buckets[23]
      assert.strictEqual(current.calls.total + day.body.buckets[22].calls.total, 12)

      const month = yield* call("GET", `${base}/health/quickbooks/metrics?venueId=${c.venueId}&period=30d`, {
        caller: admin
      })
      assert.strictEqual(month.status, 200, month.text)
      assert.strictEqual(month.body.granularity, "day")
      assert.strictEqual(month.body.buckets.length, 30)
      assert.strictEqual(month.body.totals.calls.total, 13)
      assert.strictEqual(month.body.totals.calls.errors.timeout, 1)
      assert.strictEqual(month.body.totals.calls.latencyMs.max, 30_000)
      assert.strictEqual(month.body.buckets[19].calls.errors.timeout, 1)
      const week = yield* call("GET", `${base}/health/quickbooks/metrics?venueId=${c.venueId}&period=7d`, {
        caller: admin
      })
      assert.strictEqual(week.body.buckets.length, 7)
      assert.strictEqual(week.body.totals.calls.total, 12)
    })
  )

  it.effect("needs a token and read access to the venue; a venue without the connection is 404", () =>
    Effect.gen(function* () {
      const c = yield* setUpConnection(tenant, "stripe")
      const path = `${base}/health/stripe/metrics?venueId=${c.venueId}`
      assert.strictEqual((yield* call("GET", path)).status, 401)
      const stranger: Caller = { tenantId: tenant, venueIds: [crypto.randomUUID()], role: "viewer" }
      assert.strictEqual((yield* call("GET", path, { caller: stranger })).status, 403)
      const viewer: Caller = { tenantId: tenant, venueIds: [c.venueId], role: "viewer" }
      const seen = yield* call("GET", path, { caller: viewer })
      assert.strictEqual(seen.status, 200, seen.text)
      assert.strictEqual(seen.body.period, "24h")
      assert.strictEqual(seen.body.totals.calls.total, 0)
      assert.isNull(seen.body.totals.calls.successRate)
      // Another tenant's admin does not find it.
      const other: Caller = { tenantId: crypto.randomUUID(), venueIds: [], role: "admin" }
      assert.strictEqual((yield* call("GET", path, { caller: other })).status, 404)
      assert.strictEqual((yield* call("GET", `${path}&period=1y`, { caller: viewer })).status, 400)
      assert.strictEqual(
        (yield* call("GET", `${base}/health/square/metrics?venueId=${c.venueId}`, { caller: viewer })).status,
        404
      )
    })
  )
})
