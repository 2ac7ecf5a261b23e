import { assert, layer } from "@effect/vitest"
import { Effect, Layer, type Scope } from "effect"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import type { SpawnedProcess } from "../support/Process.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { clusterEnv, clusterRequest, type JobRow, jobRows, untilJobs } from "../support/SyncCluster.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const base = "/api/v1/integrations"
/** Platform records per test, and per outbound page: many pages, so that each kill lands inside one. */
const records = 2_000
const page = 100

const Deps = OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer))

/** The tenant's records of the entity whose push has committed: synced_records rows linked to a platform id. */
const linkedRows = (tenantId: string, entityType: string) =>
  Effect.gen(function* () {
    const sql = yield* OwnerSql
    const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM synced_records
      WHERE tenant_id = ${tenantId} AND entity_type = ${entityType} AND platform_id IS NOT NULL`
    return row!.n
  }).pipe(Effect.orDie)

const jobOf = (jobId: string) =>
  Effect.map(jobRows, (rows) => {
    const job = rows.find((r) => r.id === jobId)
    assert.isDefined(job, `job ${jobId} exists`)
    return job!
  })

/** The platform's upserts, 1,000 a call (the route's limit). */
const putPlatform = (
  api: string,
  tenantId: string,
  venueId: string,
  entityType: string,
  all: ReadonlyArray<Record<string, unknown>>
) =>
  Effect.gen(function* () {
    for (let i = 0; i < all.length; i += 1000) {
      const reply = yield* clusterRequest(api, tenantId, "PUT", `${base}/platform/${entityType}`, {
        venueId,
        records: all.slice(i, i + 1000)
      })
      assert.strictEqual(reply.status, 200, reply.text)
    }
  })

/** The one outbound job the platform's upserts scheduled for the venue's connection. */
const outboundJob = (api: string, tenantId: string, provider: string, venueId: string) =>
  Effect.gen(function* () {
    const history = yield* clusterRequest(api, tenantId, "GET", `${base}/${provider}/sync/history?venueId=${venueId}`)
    assert.strictEqual(history.status, 200, history.text)
    const outbound = (history.body.jobs as ReadonlyArray<any>).filter((j) => j.direction === "outbound")
    assert.strictEqual(outbound.length, 1, `the upserts coalesced into one job: ${history.text}`)
    return outbound[0].id as string
  })

/** What the test saw at one kill: the job's committed pages, the provider's creations, the committed links. */
interface Kill {
  readonly page: number
  readonly written: number
  readonly committed: number
}

/**
 * Kills the job's worker with SIGKILL three times and starts a new one after each. Each kill waits for a random page
 * boundary 1–3 pages on, then for the provider to have written `ahead` objects (random, 1 to `maxAhead`) that no
 * committed link knows yet — mid-page, between the provider's writes and the page's commit — plus a random `jitter`.
 * Answers what each kill found; the test fails if a kill missed that window.
 */
const killMidPage = (options: {
  readonly jobId: string
  readonly tenantId: string
  readonly entityType: string
  /** Objects of the entity the provider has created so far. */
  readonly written: () => number
  readonly maxAhead: number
  readonly maxJitterMillis: number
  readonly worker: Effect.Effect<SpawnedProcess, never, Scope.Scope | TestDatabaseUrls>
}) =>
  Effect.gen(function* () {
    const kills: Array<Kill> = []
    let current = yield* options.worker
    for (let kill = 0; kill < 3; kill++) {
      const from = (yield* jobOf(options.jobId)).pages
      // Past the page the last kill left uncommitted: its replayed writes are linked by then.
      const target = from + 1 + Math.floor(Math.random() * 3)
      yield* untilJobs((rows) => rows.some((r) => r.id === options.jobId && r.pages >= target), 120_000)
      const ahead = 1 + Math.floor(Math.random() * options.maxAhead)
      const until = Date.now() + 60_000
      while (options.written() - (yield* linkedRows(options.tenantId, options.entityType)) < ahead) {
        if (Date.now() > until) assert.fail(`the provider never got ${ahead} writes ahead of the commits`)
        yield* Effect.sleep("5 millis")
      }
      yield* Effect.sleep(`${Math.floor(Math.random() * (options.maxJitterMillis + 1))} millis`)
      const written = options.written()
      const exit = yield* current.stop("SIGKILL", "10 seconds")
      assert.strictEqual(exit.signal, "SIGKILL")
      const at = yield* jobOf(options.jobId)
      assert.strictEqual(at.status, "running", "killed while the job was running")
      const committed = yield* linkedRows(options.tenantId, options.entityType)
      assert.isAbove(written, committed, `kill ${kill + 1} came after provider writes the job had not committed`)
      kills.push({ page: at.pages, written, committed })
      current = yield* options.worker
    }
    return kills
  })

/** Waits for the job to end (up to 3 minutes); answers its row. */
const jobEnded = (jobId: string) =>
  Effect.map(
    untilJobs((rows) => rows.some((r) => r.id === jobId && r.status !== "running" && r.status !== "queued"), 180_000),
    (rows) => rows.find((r) => r.id === jobId)!
  )

/** Every commit linked a distinct provider object; answers the linked external ids, sorted. */
const linkedIds = (tenantId: string, entityType: string) =>
  Effect.gen(function* () {
    const sql = yield* OwnerSql
    const rows = yield* sql<{ platformId: string; externalId: string }>`SELECT platform_id, external_id
      FROM synced_records WHERE tenant_id = ${tenantId} AND entity_type = ${entityType} AND platform_id IS NOT NULL`
    assert.strictEqual(new Set(rows.map((r) => r.platformId)).size, rows.length, "one link per platform record")
    return rows.map((r) => r.externalId).sort()
  }).pipe(Effect.orDie)

const resumedLines = (jobId: string) =>
  Effect.gen(function* () {
    const sql = yield* OwnerSql
    const logs = yield* sql<{ message: string }>`SELECT message FROM sync_logs WHERE job_id = ${jobId} ORDER BY id`
    return logs.filter((l) => l.message.startsWith("resuming after page")).map((l) => l.message)
  }).pipe(Effect.orDie)

/** Exactly once: every record fetched, created and counted once over all the runs, nothing else. */
const assertCountedOnce = (done: JobRow) =>
  assert.deepStrictEqual(
    [done.status, done.fetched, done.created, done.updated, done.unchanged, done.deleted],
    ["completed", records, records, 0, 0, 0],
    JSON.stringify(done)
  )

layer(Deps, { timeout: "400 seconds", excludeTestServices: true })(
  "outbound sync worker killed between provider writes and their commit",
  (it) => {
    it.effect(
      "Stripe customers: SIGKILL mid-page three times, each after Stripe answered writes not yet committed: one customer per platform record",
      () =>
        Effect.gen(function* () {
          const tenant = "5c222222-0000-4000-8000-0000000000b1"
          const venue = "5c222222-1111-4000-8000-0000000000b1"
          const apiKey = "sk_test_outboundKill00000000000001"
          /** Customer writes in flight at once: a page is page / concurrency rounds of Stripe's latency. */
          const concurrency = 4
          const stripe = yield* Effect.acquireRelease(
            Effect.promise(() => startFakeStripe()),
            (s) => Effect.promise(() => s.close())
          )
          const { accountId } = stripe.addKey(apiKey)
          const env = {
            ...(yield* clusterEnv),
            STRIPE_API_BASE_URL: stripe.url,
            SYNC_BUDGET_STRIPE_LIMIT: "1000",
            SYNC_BUDGET_STRIPE_CONCURRENCY: String(concurrency),
            SYNC_OUTBOUND_PAGE: String(page),
            SYNC_OUTBOUND_DEBOUNCE: "1 second"
          }
          const api = yield* spawnService("sync-outbound-kill-api-", { ...env, ROLE: "api" })
          yield* api.service.waitForUrl(`${api.base}/monitoring/health/ready`, "60 seconds")
          const connected = yield* clusterRequest(api.base, tenant, "POST", `${base}/connect/stripe`, {
            venueId: venue,
            apiKey
          })
          assert.strictEqual(connected.status, 201, connected.text)

          // No worker yet: both upserts coalesce into the one queued outbound job.
          const buyers = Array.from({ length: records }, (_, i) => ({
            id: `kill-buyer-${i}`,
            version: 1,
            data: { email: `kill${i}@example.test`, givenName: `Given${i}`, familyName: `Family${i}` }
          }))
          yield* putPlatform(api.base, tenant, venue, "customer", buyers)
          const jobId = yield* outboundJob(api.base, tenant, "stripe", venue)

          // Each customer write waits 50 ms at Stripe before it is made and answered: a page takes 25 rounds.
          stripe.inject({ latencyMs: 50 })
          const kills = yield* killMidPage({
            jobId,
            tenantId: tenant,
            entityType: "customer",
            written: () => stripe.creations(accountId, "customer"),
            // At most this many ahead leaves two rounds of writes before the page can commit.
            maxAhead: page - 2 * concurrency,
            maxJitterMillis: 0,
            worker: Effect.map(spawnService("sync-outbound-kill-worker-", { ...env, ROLE: "worker" }), (s) => s.service)
          })
          const done = yield* jobEnded(jobId)
          stripe.clearInjections()

          assertCountedOnce(done)
          assert.isAtLeast(done.attempts, 3, "the job was taken over after each kill")
          assert.isTrue(
            kills.every((k) => k.page < records / page),
            `every kill was mid-pass: ${JSON.stringify(kills)}`
          )
          assert.strictEqual(stripe.creations(accountId, "customer"), records, "no customer was created twice")

          // Some create requests were sent again after a kill, under the key they were first sent with.
          const creates = stripe.requestLog().filter((r) => r.method === "POST" && r.path === "/v1/customers")
          const keys = new Set(creates.map((r) => r.idempotencyKey))
          assert.isFalse(keys.has(undefined), "every create carried an Idempotency-Key")
          assert.strictEqual(keys.size, records, "one key per platform record")
          assert.isAbove(creates.length, records, "the killed pages were pushed again")

          const live = stripe.records(accountId, "customer")
          const byPlatformId = new Map(live.map((c) => [String((c.metadata as any)?.platform_id), c]))
          assert.strictEqual(live.length, records)
          assert.strictEqual(byPlatformId.size, records, "one live customer per platform id")
          for (let i = 0; i < records; i++) {
            const customer = byPlatformId.get(`kill-buyer-${i}`)
            assert.deepStrictEqual([customer?.email, customer?.name], [`kill${i}@example.test`, `Given${i} Family${i}`])
          }
          assert.deepStrictEqual(yield* linkedIds(tenant, "customer"), live.map((c) => String(c.id)).sort())
          const resumed = yield* resumedLines(jobId)
          assert.strictEqual(resumed.length, 3, JSON.stringify(resumed))
          yield* Effect.logInfo(
            `stripe: kills ${JSON.stringify(kills)}; ${creates.length} create requests for ${records} customers; ${done.attempts} runs; ${resumed.join(", ")}`
          )
        }).pipe(Effect.scoped),
      400_000
    )
  }
)
