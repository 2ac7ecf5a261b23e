import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFeed, settled, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"

const tenant = "eeeeeeee-0000-4000-8000-0000000000e3"
const otherTenant = "eeeeeeee-0000-4000-8000-0000000000e4"
const venue = (n: number) => `eeeeeeee-3333-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const viewer: Caller = { tenantId: tenant, venueIds: [venue(1)], role: "viewer" }
const outsider: Caller = { tenantId: otherTenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const connectStripe = (venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_route${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller: admin, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    return accountId
  })

const history = (venueId: string, query = "", caller: Caller = admin) =>
  call("GET", `${base}/stripe/sync/history?venueId=${venueId}${query}`, { caller })

const waitFor = <A>(check: Effect.Effect<A | undefined, never, any>, what: string) =>
  Effect.gen(function* () {
    const until = Date.now() + 30_000
    while (true) {
      const found = yield* check
      if (found !== undefined) return found
      if (Date.now() > until) return assert.fail(`timed out waiting for ${what}`)
      yield* Effect.sleep("100 millis")
    }
  })

layer(syncAppWith(), { timeout: "120 seconds", excludeTestServices: true })("sync routes", (it) => {
  it.effect("stop pauses a running job at a page boundary, retry resumes it from its checkpoint", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const venueId = venue(1)
      const accountId = yield* connectStripe(venueId)
      stripe.seed(accountId, "customer", 1_500)
      // Slow pages, so that the job is still running when it is stopped.
      stripe.inject({ latencyMs: 150 })
      const started = yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"], mode: "full" })
      assert.strictEqual(started.status, 202, started.text)
      const jobId = started.body.jobs[0].id
      const running = yield* waitFor(
        Effect.map(call("GET", `${base}/stripe/sync/status?venueId=${venueId}`, { caller: viewer }), (r) => {
          const customer = r.body.entities.find((e: any) => e.entityType === "customer")
          return customer.currentJob?.processed >= 200 ? customer : undefined
        }),
        "progress"
      )
      assert.strictEqual(running.currentJob.id, jobId)
      assert.isNumber(running.currentJob.recordsPerSecond)
      const stopped = yield* call("POST", `${base}/stripe/sync/stop`, { caller: admin, body: { venueId, jobId } })
      assert.strictEqual(stopped.status, 200, stopped.text)
      const paused = yield* waitFor(
        Effect.map(history(venueId, "&entityType=customer"), (r) =>
          r.body.jobs[0].status === "paused" ? r.body.jobs[0] : undefined
        ),
        "paused"
      )
      assert.isBelow(paused.counts.fetched, 1_500)
      assert.strictEqual(paused.counts.fetched % 100, 0, "stopped between pages")
      stripe.clearInjections()

      const retried = yield* call("POST", `${base}/stripe/sync/retry`, { caller: admin, body: { venueId, jobId } })
      assert.strictEqual(retried.status, 202, retried.text)
      assert.deepStrictEqual(
        retried.body.jobs.map((j: any) => [j.id, j.status]),
        [[jobId, "queued"]]
      )
      yield* settled("stripe", venueId, admin)
      const [done] = (yield* history(venueId, "&entityType=customer")).body.jobs
      assert.strictEqual(done.status, "completed")
      // Resumed, not restarted: every record fetched once.
      assert.strictEqual(done.counts.fetched, 1_500)
      assert.strictEqual(done.counts.created, 1_500)
      assert.isTrue(done.logs.some((l: any) => l.message.startsWith("resuming after page")))
      const feed = yield* readFeed("stripe", venueId, admin, null)
      assert.strictEqual(feed.changes.length, 1_500)
    })
  )

  it.effect("the same Idempotency-Key is the same job; history pages by cursor; the feed pages without gaps", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const venueId = venue(2)
      const accountId = yield* connectStripe(venueId)
      stripe.seed(accountId, "customer", 120)
      const body = { venueId, entityTypes: ["customer"] }
      const first = yield* startSync("stripe", admin, body, { "idempotency-key": "sync-once-1" })
      const again = yield* startSync("stripe", admin, body, { "idempotency-key": "sync-once-1" })
      assert.strictEqual(first.status, 202)
      assert.deepStrictEqual(again.body.jobs[0].id, first.body.jobs[0].id)
      yield* settled("stripe", venueId, admin)
      for (let i = 0; i < 3; i++) {
        yield* startSync("stripe", admin, body, { "idempotency-key": `sync-page-${i}` })
        yield* settled("stripe", venueId, admin)
      }
      const page1 = yield* history(venueId, "&limit=2")
      assert.strictEqual(page1.body.jobs.length, 2)
      const page2 = yield* history(venueId, `&limit=2&cursor=${page1.body.nextCursor}`)
      assert.strictEqual(page2.body.jobs.length, 2)
      assert.strictEqual(page2.body.nextCursor, null)
      const seen = [...page1.body.jobs, ...page2.body.jobs].map((j: any) => j.id)
      assert.strictEqual(new Set(seen).size, 4)

      // Pages of 7: the same 120 records, in order, each once.
      const paged: Array<string> = []
      let cursor: string | null = null
      while (true) {
        const query: string = cursor === null ? "" : `&cursor=${cursor}`
        const page = yield* call("GET", `${base}/stripe/records?venueId=${venueId}&limit=7${query}`, { caller: admin })
        assert.strictEqual(page.status, 200, page.text)
        if (page.body.records.length === 0) break
        paged.push(...page.body.records.map((r: any) => r.externalId))
        cursor = page.body.nextCursor
      }
      assert.strictEqual(paged.length, 120)
      assert.strictEqual(new Set(paged).size, 120)
    })
  )

  it.effect("bad input gets a 4xx naming the field and queues nothing", () =>
    Effect.gen(function* () {
      const venueId = venue(3)
      yield* connectStripe(venueId)
      const cases: Array<[Caller, string, string, unknown, number, string]> = [
        [admin, "POST", "/stripe/sync", { venueId, entityTypes: ["contact"] }, 422, "entityTypes"],
        [
          admin,
          "POST",
          "/stripe/sync",
          { venueId, direction: "outbound", entityTypes: ["payment"] },
          422,
          "entityTypes"
        ],
        [admin, "POST", "/stripe/sync", { venueId, priority: "urgent" }, 400, "priority"],
        [admin, "POST", "/stripe/sync", { venueId, mode: "sometimes" }, 400, "mode"],
        [admin, "POST", "/stripe/sync", { venueId, entityTypes: [] }, 400, "entityTypes"],
        [admin, "POST", "/mailchimp/sync", { venueId }, 404, "provider"],
        [viewer, "POST", "/stripe/sync", { venueId: venue(1) }, 403, ""],
        [outsider, "POST", "/stripe/sync", { venueId }, 404, "provider"],
        [admin, "POST", "/stripe/sync/stop", { venueId, jobId: "not-a-uuid" }, 400, "jobId"],
        [admin, "GET", `/stripe/sync/history?venueId=${venueId}&cursor=nonsense`, undefined, 422, "cursor"],
        [admin, "GET", `/stripe/sync/history?venueId=${venueId}&limit=0`, undefined, 400, "limit"],
        [admin, "GET", `/stripe/records?venueId=${venueId}&cursor=abc`, undefined, 422, "cursor"],
        [outsider, "GET", `/stripe/records?venueId=${venueId}`, undefined, 404, "provider"]
      ]
      for (const [caller, method, path, body, status, field] of cases) {
        const reply = yield* call(method as "GET" | "POST", `${base}${path}`, { caller, body })
        assert.strictEqual(reply.status, status, `${method} ${path} ${JSON.stringify(body)}: ${reply.text}`)
        if (field !== "") assert.include(reply.text, field, `${method} ${path}: ${reply.text}`)
      }
      const jobs = yield* history(venueId)
      assert.deepStrictEqual(jobs.body.jobs, [])
    })
  )
})
