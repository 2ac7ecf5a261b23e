import { assert, layer } from "@effect/vitest"
import { Effect, Layer, type Scope } from "effect"
import { startFakeSquare } from "../sandbox/FakeSquare.ts"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import type { SpawnedProcess } from "../support/Process.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { clusterEnv, clusterRequest, type JobRow, jobRows, untilJobs } from "../support/SyncCluster.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const base = "/api/v1/integrations"
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

/** Three distinct pages of `pages`, at random, in order. */
const threePages = (pages: number) => {
  const all = Array.from({ length: pages }, (_, i) => i)
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all.slice(0, 3).sort((a, b) => a - b)
}

/**
 * Kills the job's worker with SIGKILL three times, in three random pages of the job's `pages`, and starts a new worker
 * after each. In its page, each kill waits for the provider to have written `ahead` objects (random, 1 to `maxAhead`)
 * that no committed link knows yet — between the provider's writes and the page's commit — plus a random jitter.
 * Answers what each kill found; the test fails if a kill missed that window.
 */
const killMidPage = (options: {
  readonly jobId: string
  readonly pages: number
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
    const targets = threePages(options.pages)
    for (const [kill, target] of targets.entries()) {
      // Pages before the target committed, among them the one the last kill left: its replayed writes are linked.
      yield* untilJobs((rows) => rows.some((r) => r.id === options.jobId && r.pages >= target), 120_000)
      const ahead = 1 + Math.floor(Math.random() * options.maxAhead)
      const until = Date.now() + 60_000
      while (options.written() - (yield* linkedRows(options.tenantId, options.entityType)) < ahead) {
        if (Date.now() > until)
          assert.fail(
            `the provider never got ${ahead} writes ahead of the commits: ${options.written()} written, ${yield* linkedRows(options.tenantId, options.entityType)} linked, ${JSON.stringify(yield* jobOf(options.jobId))}`
          )
        yield* Effect.sleep("5 millis")
      }
      yield* Effect.sleep(`${Math.floor(Math.random() * (options.maxJitterMillis + 1))} millis`)
      const written = options.written()
      const exit = yield* current.stop("SIGKILL", "10 seconds")
      assert.strictEqual(exit.signal, "SIGKILL")
      const at = yield* jobOf(options.jobId)
      assert.strictEqual(at.status, "running", "killed while the job was running")
      assert.strictEqual(at.pages, target, `kill ${kill + 1} landed in the page chosen for it`)
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

/** The job log's lines for runs after `kills`: each resumes after the pages committed before its kill. */
const resumedAfter = (kills: ReadonlyArray<Kill>) =>
  kills.filter((k) => k.page > 0).map((k) => `resuming after page ${k.page}`)

/** Exactly once: every record fetched, created and counted once over all the runs, nothing else. */
const assertCountedOnce = (done: JobRow, records: number) =>
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
          // Six pages of 500 (the Stripe writer's batch, which a page always holds): three of them see a kill.
          const records = 3_000
          const page = 500
          /** Customer writes in flight at once: a page is page / concurrency rounds of Stripe's latency. */
          const concurrency = 8
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

          // Each customer write waits 50 ms at Stripe before it is made and answered: a page takes 63 rounds.
          stripe.inject({ latencyMs: 50 })
          const kills = yield* killMidPage({
            jobId,
            pages: records / page,
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

          assertCountedOnce(done, records)
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
          // A run after a kill resumes after the pages committed before it; a kill in the first page left none.
          assert.deepStrictEqual(resumed, resumedAfter(kills))
          yield* Effect.logInfo(
            `stripe: kills ${JSON.stringify(kills)}; ${creates.length} create requests for ${records} customers; ${done.attempts} runs; ${resumed.join(", ")}`
          )
        }).pipe(Effect.scoped),
      400_000
    )

    it.effect(
      "Square catalog items through batch-upsert: SIGKILL three times after Square made a page's batch, before its commit: one ITEM per platform record",
      () =>
        Effect.gen(function* () {
          const tenant = "5c222222-0000-4000-8000-0000000000b2"
          const venue = "5c222222-1111-4000-8000-0000000000b2"
          const merchant = "MLOUTBOUNDKILL01"
          // Five pages of 1,000 (the Square writer's batch): three of them see a kill.
          const records = 5_000
          const page = 1000
          /** Each Square answer waits this long after the fake made the write. */
          const latencyMs = 100
          const square = yield* Effect.acquireRelease(
            Effect.promise(() => startFakeSquare()),
            (s) => Effect.promise(() => s.close())
          )
          const env = {
            ...(yield* clusterEnv),
            SQUARE_CLIENT_ID: square.clientId,
            SQUARE_CLIENT_SECRET: square.clientSecret,
            SQUARE_BASE_URL: square.url,
            // The fake's consent page hands the redirect's query back to the test, which calls the callback itself.
            PUBLIC_BASE_URL: "http://127.0.0.1:9",
            SYNC_BUDGET_SQUARE_LIMIT: "1000",
            SYNC_OUTBOUND_PAGE: String(page),
            SYNC_OUTBOUND_DEBOUNCE: "1 second"
          }
          const api = yield* spawnService("sync-outbound-kill-api-", { ...env, ROLE: "api" })
          yield* api.service.waitForUrl(`${api.base}/monitoring/health/ready`, "60 seconds")
          const started = yield* clusterRequest(api.base, tenant, "POST", `${base}/connect/square`, { venueId: venue })
          assert.strictEqual(started.status, 200, started.text)
          const query = yield* Effect.promise(() =>
            square.consent(started.body.authorizationUrl, { account: merchant })
          )
          const connected = yield* clusterRequest(
            api.base,
            tenant,
            "GET",
            `${base}/oauth/callback/square?${new URLSearchParams(query)}`
          )
          assert.strictEqual(connected.status, 200, connected.text)

          const shows = Array.from({ length: records }, (_, i) => ({
            id: `kill-show-${i}`,
            version: 1,
            data: { name: `Show ${i}`, priceMinor: 1000 + i, currency: "USD", capacityRemaining: i % 50 }
          }))
          yield* putPlatform(api.base, tenant, venue, "product", shows)
          const jobId = yield* outboundJob(api.base, tenant, "square", venue)

          // A page is one batch-upsert of its 1,000 ITEMs, the seller's locations and ten inventory batches, each
          // answered `latencyMs` after the fake acted: a kill up to 5 × `latencyMs` after the batch is made lands before
          // the page's commit.
          square.setDataLatency(latencyMs)
          const kills = yield* killMidPage({
            jobId,
            pages: records / page,
            tenantId: tenant,
            entityType: "product",
            written: () => square.creations(merchant, "product"),
            maxAhead: 1,
            maxJitterMillis: 5 * latencyMs,
            worker: Effect.map(spawnService("sync-outbound-kill-worker-", { ...env, ROLE: "worker" }), (s) => s.service)
          })
          const done = yield* jobEnded(jobId)
          square.setDataLatency(0)

          assertCountedOnce(done, records)
          assert.isTrue(
            kills.every((k) => k.page < records / page),
            `every kill was mid-pass: ${JSON.stringify(kills)}`
          )
          assert.strictEqual(square.creations(merchant, "product"), records, "no ITEM was created twice")
          const upserts = square.dataRequests(merchant).filter((r) => r.path === "POST /v2/catalog/batch-upsert")
          assert.isAbove(upserts.length, records / page, "the killed pages' batches were sent again")

          const live = square.records(merchant, "product") as ReadonlyArray<any>
          const byName = new Map(live.map((item) => [String(item.item_data?.name), item]))
          assert.strictEqual(live.length, records)
          assert.strictEqual(byName.size, records, "one live ITEM per platform record")
          for (let i = 0; i < records; i++) {
            const item = byName.get(`Show ${i}`)
            const variation = item?.item_data?.variations?.[0]
            assert.deepStrictEqual(
              [
                variation?.item_variation_data?.price_money?.amount,
                variation?.item_variation_data?.price_money?.currency
              ],
              [1000 + i, "USD"]
            )
            assert.strictEqual(square.inventoryCount(merchant, String(variation?.id))?.quantity, String(i % 50))
          }
          assert.deepStrictEqual(yield* linkedIds(tenant, "product"), live.map((item) => String(item.id)).sort())
          const resumed = yield* resumedLines(jobId)
          // A run after a kill resumes after the pages committed before it; a kill in the first page left none.
          assert.deepStrictEqual(resumed, resumedAfter(kills))
          yield* Effect.logInfo(
            `square: kills ${JSON.stringify(kills)}; ${upserts.length} batch-upserts for ${records / page} pages; ${done.attempts} runs; ${resumed.join(", ")}`
          )
        }).pipe(Effect.scoped),
      400_000
    )
  }
)
