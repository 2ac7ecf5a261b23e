import { assert, layer } from "@effect/vitest"
import { Effect, Redacted, Schedule } from "effect"
import { TokenVault } from "../../application/TokenVault.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { settled, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { asTenant, type Caller, call, TestWorld } from "../support/TestApp.ts"

const tenant = TenantId.make("5c222222-0000-4000-8000-0000000000b1")
const venue = (n: number) => `5c222222-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const connectStripe = (venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_storm${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller: admin, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    return accountId
  })

/** Connect (or reconnect) through the OAuth flow: the venue consents for `realm` at the QuickBooks fake. */
const connectQuickBooks = (venueId: string, realm: string) =>
  Effect.gen(function* () {
    const { quickbooks } = yield* TestWorld
    const started = yield* call("POST", `${base}/connect/quickbooks`, { caller: admin, body: { venueId } })
    assert.strictEqual(started.status, 200, started.text)
    const query = yield* Effect.promise(() => quickbooks.consent(started.body.authorizationUrl, { account: realm }))
    const done = yield* call("GET", `${base}/oauth/callback/quickbooks?${new URLSearchParams(query)}`)
    assert.strictEqual(done.status, 200, done.text)
    return { tenantId: tenant, id: ConnectionId.make(done.body.connection.id) }
  })

interface Job {
  readonly id: string
  readonly entityType: string
  readonly status: string
  readonly pages: number
  readonly attempts: number
  readonly fetched: number
  readonly created: number
  readonly lastError: string | null
}

const jobsOf = (venueId: string) =>
  asTenant(
    tenant,
    (sql) => sql<Job>`SELECT id, entity_type, status, coalesce((checkpoint->>'pages')::int, 0) AS pages, attempts,
        fetched, created, last_error
      FROM sync_jobs WHERE venue_id = ${venueId} ORDER BY created_at, id`
  )

const logsOf = (jobId: string) =>
  asTenant(
    tenant,
    (sql) => sql<{ level: string; message: string }>`SELECT level, message FROM sync_logs
    WHERE job_id = ${jobId} ORDER BY id`
  )

/** Polls the venue's jobs until `done` holds; fails with the rows when `timeoutMillis` passes. */
const untilJobs = (venueId: string, done: (jobs: ReadonlyArray<Job>) => boolean, timeoutMillis = 60_000) =>
  jobsOf(venueId).pipe(
    Effect.flatMap((jobs) => (done(jobs) ? Effect.succeed(jobs) : Effect.fail(jobs))),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: `${timeoutMillis} millis` }))),
    Effect.catch((jobs) => Effect.die(new Error(`jobs did not get there: ${JSON.stringify(jobs)}`)))
  )

const storms = syncAppWith({
  SYNC_BREAKER_FAILURES: "2",
  SYNC_BREAKER_OPEN: "1 second",
  // 429s a call waits through before the job itself is put back in the queue for later.
  SYNC_RATE_LIMIT_WAITS: "4",
  SYNC_SCHEDULER_TICK: "300 millis"
})

layer(storms, { timeout: "180 seconds", excludeTestServices: true })("sync under provider storms", (it) => {
  it.effect(
    "a 429 storm: the job waits it out (in the call, then back in the queue) and completes",
    () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const venueId = venue(1)
        const accountId = yield* connectStripe(venueId)
        stripe.seed(accountId, "customer", 300)
        stripe.inject({ status: 429, retryAfterSeconds: 1, times: 10 })
        const started = yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"], mode: "full" })
        assert.strictEqual(started.status, 202, started.text)
        const entities = yield* settled("stripe", venueId, admin, 90_000)
        stripe.clearInjections()
        assert.strictEqual(entities.find((e) => e.entityType === "customer")?.state, "completed")
        const [job] = yield* jobsOf(venueId)
        assert.deepStrictEqual([job?.status, job?.fetched, job?.created], ["completed", 300, 300], JSON.stringify(job))
        const refused = stripe.dataRequests(accountId).filter((r) => r.status === 429)
        assert.strictEqual(refused.length, 10)
        // Four 429s in a row on one call: the job went back to the queue instead of failing, and a delayed run is
        // not a failed one.
        assert.strictEqual(job!.attempts, 0)
        const logs = yield* logsOf(job!.id)
        assert.isTrue(
          logs.some((l) => l.message.startsWith("waiting")),
          JSON.stringify(logs)
        )
        assert.isFalse(
          logs.some((l) => l.level === "error"),
          JSON.stringify(logs)
        )
      }),
    120_000
  )

  it.effect(
    "a 5xx storm opens the breaker: jobs wait (queued), then finish once the provider recovers",
    () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const venueId = venue(2)
        const accountId = yield* connectStripe(venueId)
        stripe.seed(accountId, "customer", 150)
        stripe.seed(accountId, "product", 120)
        stripe.inject({ status: 503 })
        const started = yield* startSync("stripe", admin, { venueId, mode: "full" })
        assert.strictEqual(started.status, 202, started.text)
        // The connection's breaker opens after two failed calls; the other entities' jobs then wait behind it.
        const waiting = yield* untilJobs(venueId, (jobs) =>
          jobs.some((j) => j.status === "queued" && /breaker|circuit/i.test(j.lastError ?? ""))
        )
        assert.isTrue(
          waiting.every((j) => j.status === "queued" || j.status === "running"),
          `nothing failed during the storm: ${JSON.stringify(waiting)}`
        )
        stripe.clearInjections()
        assert.isAtLeast(stripe.dataRequests(accountId).filter((r) => r.status === 503).length, 2)
        const entities = yield* settled("stripe", venueId, admin, 90_000)
        assert.isTrue(
          entities.every((e) => e.state === "completed"),
          JSON.stringify(entities)
        )
        const jobs = yield* jobsOf(venueId)
        assert.deepStrictEqual(
          Object.fromEntries(jobs.map((j) => [j.entityType, j.created])),
          { customer: 150, product: 120, order: 0, invoice: 0, payment: 0 },
          JSON.stringify(jobs)
        )
        const delayed = waiting.find((j) => /breaker|circuit/i.test(j.lastError ?? ""))!
        const logs = yield* logsOf(delayed.id)
        assert.isTrue(
          logs.some((l) => l.level === "warn" && /breaker|circuit/i.test(l.message)),
          `the wait is in the job's history: ${JSON.stringify(logs)}`
        )
      }),
    120_000
  )

  it.effect(
    "an access token that expires mid-sync is refreshed once and the sync goes on",
    () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const venueId = venue(3)
        const realm = "9341450000000301"
        const ref = yield* connectQuickBooks(venueId, realm)
        quickbooks.seed(realm, "customer", 4_000)
        quickbooks.setDataDelay(300)
        const refreshes = quickbooks.stats().refreshes
        const started = yield* startSync("quickbooks", admin, { venueId, entityTypes: ["customer"], mode: "full" })
        assert.strictEqual(started.status, 202, started.text)
        yield* untilJobs(venueId, (jobs) => jobs.some((j) => j.pages >= 1))
        const token = yield* (yield* TokenVault).accessToken(ref)
        quickbooks.expireAccessToken(Redacted.value(token.token))
        const entities = yield* settled("quickbooks", venueId, admin, 90_000)
        quickbooks.setDataDelay(0)
        assert.strictEqual(entities.find((e) => e.entityType === "customer")?.state, "completed")
        assert.strictEqual(quickbooks.stats().refreshes - refreshes, 1, "one refresh")
        const [job] = yield* jobsOf(venueId)
        assert.deepStrictEqual([job?.status, job?.created, job?.attempts], ["completed", 4_000, 0], JSON.stringify(job))
      }),
    120_000
  )

  it.effect(
    "invalid_grant on the refresh: needs_reauth, the job paused; after a reconnect it resumes",
    () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const venueId = venue(4)
        const realm = "9341450000000401"
        const ref = yield* connectQuickBooks(venueId, realm)
        quickbooks.seed(realm, "customer", 4_000)
        quickbooks.setDataDelay(300)
        const started = yield* startSync("quickbooks", admin, { venueId, entityTypes: ["customer"], mode: "full" })
        assert.strictEqual(started.status, 202, started.text)
        yield* untilJobs(venueId, (jobs) => jobs.some((j) => j.pages >= 1))
        const token = yield* (yield* TokenVault).accessToken(ref)
        // The token is refused and the refresh token with it: the venue has to authorize again.
        quickbooks.fail("invalid_grant", 1)
        quickbooks.expireAccessToken(Redacted.value(token.token))
        const [paused] = yield* untilJobs(venueId, (jobs) => jobs.some((j) => j.status === "paused"))
        assert.isAtLeast(paused!.pages, 1)
        assert.isBelow(paused!.pages, 4, "paused mid-pass")
        assert.match(paused!.lastError ?? "", /invalid_grant/)
        const connection = yield* call("GET", `${base}/quickbooks?venueId=${venueId}`, { caller: admin })
        assert.strictEqual(connection.body.status, "needs_reauth", connection.text)
        const status = yield* call("GET", `${base}/quickbooks/sync/status?venueId=${venueId}`, { caller: admin })
        assert.strictEqual(status.body.entities.find((e: any) => e.entityType === "customer")?.state, "paused")

        yield* connectQuickBooks(venueId, realm)
        const [resumed] = yield* untilJobs(venueId, (jobs) => jobs[0]?.status === "completed", 60_000)
        quickbooks.setDataDelay(0)
        assert.deepStrictEqual([resumed?.id, resumed?.created], [paused!.id, 4_000], JSON.stringify(resumed))
        const logs = yield* logsOf(paused!.id)
        assert.isTrue(
          logs.some((l) => l.message === `resuming after page ${paused!.pages}`),
          JSON.stringify(logs)
        )
      }),
    120_000
  )
})
