import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { readFeed, settled, syncAppWith } from "../support/SyncTestApp.ts"
import { asTenant, type Caller, call, TestWorld } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"

const tenant = "eeeeeeee-0000-4000-8000-0000000000e2"
const venue = (n: number) => `eeeeeeee-2222-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const connectStripe = (venueId: string, seed: number) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_sched${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    stripe.seed(accountId, "customer", seed)
    const done = yield* call("POST", `${base}/connect/stripe`, {
      caller: admin,
      body: { venueId, apiKey },
      headers: { "x-request-id": `connect-${venueId}` }
    })
    assert.strictEqual(done.status, 201, done.text)
    return { accountId, connectionId: done.body.id as string }
  })

/** Polls `check` until it holds (or fails the test after `seconds`). */
const eventually = <A>(check: Effect.Effect<A | undefined, never, any>, seconds = 30) =>
  Effect.gen(function* () {
    const until = Date.now() + seconds * 1000
    while (true) {
      const found = yield* check
      if (found !== undefined) return found
      if (Date.now() > until) {
        const { logs } = yield* TestWorld
        return assert.fail(
          `timed out: ${logs
            .filter((l) => l.includes("schedul"))
            .slice(-3)
            .join("\n")}`
        )
      }
      yield* Effect.sleep("200 millis")
    }
  })

const App = OwnerSql.layer.pipe(
  Layer.provideMerge(
    syncAppWith({ SYNC_SCHEDULER: "true", SYNC_SCHEDULER_TICK: "200 millis", SYNC_INTERVAL: "1 hour" })
  )
)

layer(App, { timeout: "120 seconds", excludeTestServices: true })("sync scheduling", (it) => {
  it.effect("a new connection gets its initial full sync; a webhook's sync request becomes a job within seconds", () =>
    Effect.gen(function* () {
      const venueId = venue(1)
      const { connectionId } = yield* connectStripe(venueId, 30)
      // Nobody asked: the scheduler saw a connected connection without a schedule.
      const jobs = yield* eventually(
        Effect.map(
          call("GET", `${base}/stripe/sync/history?venueId=${venueId}&entityType=customer`, { caller: admin }),
          (r) => (r.body.jobs.some((j: any) => j.status === "completed") ? r.body.jobs : undefined)
        )
      )
      assert.strictEqual(jobs[0].requestedBy, "scheduler")
      const feed = yield* readFeed("stripe", venueId, admin, null, "customer")
      assert.strictEqual(feed.changes.length, 30)

      // What a webhook handler writes for a changed entity (see WebhookSyncRequests): an incremental job follows.
      const sql = yield* OwnerSql.useSync((s) => s)
      yield* sql`INSERT INTO sync_requests (tenant_id, connection_id, entity_type, source)
        VALUES (${tenant}, ${connectionId}, 'customer', 'webhook:stripe:customer.updated')`.pipe(Effect.orDie)
      const requested = yield* eventually(
        Effect.map(
          call("GET", `${base}/stripe/sync/history?venueId=${venueId}&entityType=customer`, { caller: admin }),
          (r) =>
            r.body.jobs.find(
              (j: any) => j.requestedBy === "webhook:stripe:customer.updated" && j.status === "completed"
            )
        ),
        10
      )
      assert.strictEqual(requested.mode, "incremental")
      const left = yield* asTenant(tenant, (s) => s`SELECT count(*)::int AS n FROM sync_requests`)
      assert.strictEqual((left[0] as { n: number }).n, 0)
    })
  )

  it.effect("one trace from POST /sync across the queue into each page's provider call and its SQL", () =>
    Effect.gen(function* () {
      const { spans } = yield* TestWorld
      const venueId = venue(2)
      yield* connectStripe(venueId, 250)
      // The scheduler's initial full sync first: asked while it is still queued, POST /sync would join that job,
      // which runs in the scheduler's trace.
      yield* eventually(
        Effect.map(
          call("GET", `${base}/stripe/sync/history?venueId=${venueId}&entityType=customer`, { caller: admin }),
          (r) =>
            r.body.jobs.some((j: any) => j.requestedBy === "scheduler" && j.status === "completed") ? true : undefined
        )
      )
      yield* settled("stripe", venueId, admin)
      const started = yield* call("POST", `${base}/stripe/sync`, {
        caller: admin,
        body: { venueId, entityTypes: ["customer"], mode: "full" },
        headers: { "x-request-id": "trace-sync-1" }
      })
      assert.strictEqual(started.status, 202, started.text)
      yield* settled("stripe", venueId, admin)
      const wanted = ["SyncJobs.request", "SyncWorker.job", "SyncEngine.run", "SyncRecords.commitPage"]
      const traceOf = Effect.sync(() => {
        const finished = spans.getFinishedSpans()
        const root = finished.find((s) => s.attributes["http.request_id"] === "trace-sync-1")
        assert.isDefined(root, "the HTTP server span")
        return finished.filter((s) => s.spanContext().traceId === root!.spanContext().traceId)
      })
      // The job shows completed from inside its span: the worker's spans end a moment after.
      const trace = yield* eventually(
        Effect.map(traceOf, (t) => (wanted.every((w) => t.some((s) => s.name === w)) ? t : undefined)),
        5
      ).pipe(Effect.catchDefect(() => traceOf))
      const names = trace.map((s) => s.name)
      assert.includeMembers(names, wanted)
      // 250 customers, pages of 100: three provider calls, each with its page commit.
      assert.strictEqual(names.filter((n) => n === "SyncEngine.page").length, 3, names.join(","))
      assert.isTrue(
        trace.some((s) => s.name === "postgres" && String(s.attributes["db.query.text"]).includes("synced_records")),
        "the page's SQL"
      )
    })
  )
})
