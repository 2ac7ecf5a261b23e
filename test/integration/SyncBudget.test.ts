import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { bucketOf } from "../../domain/sync/Budget.ts"
import { startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { clusterEnv, clusterRequest, untilJobs } from "../support/SyncCluster.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const tenant = "5c333333-0000-4000-8000-0000000000b1"
const venue = (n: number) => `5c333333-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const base = "/api/v1/integrations"
const realm = "9341450000000601"
/** Small, so that this machine's demand (many one-page jobs from many venues) keeps the budget busy. */
const budget = { limit: 20, windowMillis: 2_000 }
const venueCount = 12
const perEntity = 10

/** The most calls in any window of the budget's length: what a provider counting a sliding window sees. */
const slidingMax = (arrivals: ReadonlyArray<number>) => {
  let max = 0
  let from = 0
  for (let i = 0; i < arrivals.length; i++) {
    while (arrivals[i]! - arrivals[from]! >= budget.windowMillis) from += 1
    max = Math.max(max, i - from + 1)
  }
  return max
}

layer(OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer)), {
  timeout: "300 seconds",
  excludeTestServices: true
})("two worker processes on one QuickBooks realm", (it) => {
  it.effect(
    "share one budget: no window of the provider's holds more than its limit, no call is refused, the rate is used",
    () =>
      Effect.gen(function* () {
        const quickbooks = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeQuickBooks()),
          (q) => Effect.promise(() => q.close())
        )
        const env = {
          ...(yield* clusterEnv),
          PUBLIC_BASE_URL: "https://integrations.example.test",
          QUICKBOOKS_CLIENT_ID: quickbooks.clientId,
          QUICKBOOKS_CLIENT_SECRET: quickbooks.clientSecret,
          QUICKBOOKS_BASE_URL: quickbooks.url,
          QUICKBOOKS_OAUTH_BASE_URL: quickbooks.url,
          SYNC_BUDGET_QUICKBOOKS_LIMIT: String(budget.limit),
          SYNC_BUDGET_QUICKBOOKS_WINDOW: `${budget.windowMillis} millis`,
          SYNC_CONCURRENCY: "8",
          // Health checks (CompanyInfo) do not go through the sync budget yet: kept out of this window.
          HEALTH_CHECK_INTERVAL: "6 hours"
        }
        const api = yield* spawnService("sync-budget-api-", { ...env, ROLE: "api" })
        yield* api.service.waitForUrl(`${api.base}/monitoring/health/ready`, "60 seconds")
        // Venues of the tenant connected to the same company: one budget between them all.
        const venues = Array.from({ length: venueCount }, (_, i) => venue(20 + i))
        for (const venueId of venues) {
          const started = yield* clusterRequest(api.base, tenant, "POST", `${base}/connect/quickbooks`, { venueId })
          assert.strictEqual(started.status, 200, started.text)
          const query = yield* Effect.promise(() =>
            quickbooks.consent(started.body.authorizationUrl, { account: realm })
          )
          const done = yield* clusterRequest(
            api.base,
            tenant,
            "GET",
            `${base}/oauth/callback/quickbooks?${new URLSearchParams(query)}`
          )
          assert.strictEqual(done.status, 200, done.text)
        }
        for (const entity of ["customer", "product", "order", "invoice", "payment"] as const)
          quickbooks.seed(realm, entity, perEntity)
        // The fake refuses anything over the budget in any sliding window, as a strict provider would.
        quickbooks.setRateLimit(realm, { limit: budget.limit, windowMs: budget.windowMillis })
        const workers = [
          yield* spawnService("sync-budget-worker-", { ...env, ROLE: "worker" }),
          yield* spawnService("sync-budget-worker-", { ...env, ROLE: "worker" })
        ]
        const from = Date.now()
        for (const venueId of venues) {
          const started = yield* clusterRequest(api.base, tenant, "POST", `${base}/quickbooks/sync`, {
            venueId,
            mode: "full"
          })
          assert.strictEqual(started.status, 202, started.text)
        }
        const jobs = yield* untilJobs(
          (rows) =>
            rows.length === venueCount * 5 && rows.every((r) => r.status !== "queued" && r.status !== "running"),
          240_000
        )
        assert.isTrue(
          jobs.every((j) => j.status === "completed" && j.created === perEntity),
          JSON.stringify(jobs)
        )
        const arrivals = quickbooks
          .dataRequests(realm)
          .filter((r) => r.at >= from && /\/(query|cdc)\?/.test(r.path))
          .map((r) => r.at)
          .sort((a, b) => a - b)
        const refused = workers.map((w) => w.service.output().split("provider rate limit: waiting").length - 1)
        const span = (arrivals.at(-1)! - arrivals[0]!) / budget.windowMillis
        const bucket = bucketOf({ ...budget, concurrency: 10 })
        const steady = (budget.windowMillis / bucket.windowMillis) * bucket.limit
        yield* Effect.logInfo(
          `${arrivals.length} calls over ${span.toFixed(1)} windows: ${(arrivals.length / span).toFixed(1)} a window ` +
            `(the bucket's steady rate ${steady} of ${budget.limit}); sliding max ${slidingMax(arrivals)}; ` +
            `429s waited on per worker ${refused.join(",")}`
        )
        assert.isAtMost(slidingMax(arrivals), budget.limit)
        // Demand above the budget: the bucket, not the engine, set the pace, and it spent what it allows.
        assert.isAtLeast(arrivals.length / span, 0.95 * steady)
        assert.deepStrictEqual(refused, [0, 0], "the provider never refused a call")
      }).pipe(Effect.scoped),
    300_000
  )
})
