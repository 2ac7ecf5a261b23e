import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import type { SpawnedProcess } from "../support/Process.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { clusterEnv, clusterRequest, jobRows, untilJobs } from "../support/SyncCluster.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const tenant = "5c111111-0000-4000-8000-0000000000a1"
const venue = "5c111111-1111-4000-8000-0000000000a1"
const apiKey = "sk_test_syncKill000000000000000001"
const customers = 3_000

const Deps = OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer))

layer(Deps, { timeout: "240 seconds", excludeTestServices: true })("sync worker killed mid-job", (it) => {
  it.effect(
    "SIGKILL of the worker at random pages, three times in one sync: the job completes, each record written once",
    () =>
      Effect.gen(function* () {
        const stripe = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeStripe()),
          (s) => Effect.promise(() => s.close())
        )
        const { accountId } = stripe.addKey(apiKey)
        stripe.seed(accountId, "customer", customers)
        const env = { ...(yield* clusterEnv), STRIPE_API_BASE_URL: stripe.url, SYNC_BUDGET_STRIPE_LIMIT: "1000" }

        // The API in a process of its own that is never killed; the workers come and go.
        const api = yield* spawnService("sync-kill-api-", { ...env, ROLE: "api" })
        yield* api.service.waitForUrl(`${api.base}/monitoring/health/ready`, "60 seconds")
        const connected = yield* clusterRequest(api.base, tenant, "POST", "/api/v1/integrations/connect/stripe", {
          venueId: venue,
          apiKey
        })
        assert.strictEqual(connected.status, 201, connected.text)

        // Every data read waits, so 30 pages of 100 take long enough to kill a worker between them.
        stripe.inject({ latencyMs: 150 })
        const started = yield* clusterRequest(api.base, tenant, "POST", "/api/v1/integrations/stripe/sync", {
          venueId: venue,
          entityTypes: ["customer"],
          mode: "full"
        })
        assert.strictEqual(started.status, 202, started.text)
        const [job] = started.body.jobs
        const worker = () => Effect.map(spawnService("sync-kill-worker-", { ...env, ROLE: "worker" }), (s) => s.service)

        const killedAt: Array<number> = []
        let current: SpawnedProcess = yield* worker()
        for (let kill = 0; kill < 3; kill++) {
          const [before] = yield* jobRows
          const from = before?.pages ?? 0
          // A random page boundary 1–4 pages on, then a random moment inside the page being read.
          const target = from + 1 + Math.floor(Math.random() * 4)
          yield* untilJobs((rows) => rows.some((r) => r.id === job.id && r.pages >= target))
          yield* Effect.sleep(`${Math.floor(Math.random() * 150)} millis`)
          const exit = yield* current.stop("SIGKILL", "10 seconds")
          assert.strictEqual(exit.signal, "SIGKILL")
          const [at] = yield* jobRows
          assert.strictEqual(at?.status, "running", "killed while the job was running")
          killedAt.push(at!.pages)
          current = yield* worker()
        }

        const [done] = yield* untilJobs(
          (rows) => rows.some((r) => r.id === job.id && r.status !== "running" && r.status !== "queued"),
          120_000
        )
        stripe.clearInjections()
        assert.strictEqual(done?.status, "completed", JSON.stringify(done))
        assert.isAtLeast(done!.attempts, 3, "the job was taken over after each kill (a take-over is a failed run)")
        assert.isTrue(
          killedAt.every((p) => p < customers / 100),
          `every kill was mid-pass: ${JSON.stringify(killedAt)}`
        )
        // Exactly once: every page counted once (a re-read page would add fetched and unchanged), every record
        // created once and never rewritten.
        assert.deepStrictEqual(
          [done!.fetched, done!.created, done!.updated, done!.unchanged, done!.deleted],
          [customers, customers, 0, 0, 0],
          JSON.stringify(done)
        )
        const sql = yield* OwnerSql
        const rows = yield* sql<{ externalId: string; change: string; changeSeq: string }>`
          SELECT external_id, change, change_seq::text FROM synced_records ORDER BY external_id`
        const ids = stripe
          .records(accountId, "customer")
          .map((r) => String(r.id))
          .sort()
        assert.deepStrictEqual(
          rows.map((r) => r.externalId),
          ids
        )
        assert.isTrue(
          rows.every((r) => r.change === "added"),
          "no record was written a second time"
        )
        assert.strictEqual(new Set(rows.map((r) => r.changeSeq)).size, customers, "one change number per record")
        const logs = yield* sql<{ message: string }>`SELECT message FROM sync_logs WHERE job_id = ${job.id} ORDER BY id`
        const resumed = logs.filter((l) => l.message.startsWith("resuming after page"))
        assert.strictEqual(resumed.length, 3, JSON.stringify(logs))

        // The change feed tells each record once.
        const feed: Array<string> = []
        let cursor: string | null = null
        while (true) {
          const query: URLSearchParams = new URLSearchParams({
            venueId: venue,
            limit: "1000",
            ...(cursor === null ? {} : { cursor })
          })
          const page: { status: number; body: any; text: string } = yield* clusterRequest(
            api.base,
            tenant,
            "GET",
            `/api/v1/integrations/stripe/records?${query}`
          )
          assert.strictEqual(page.status, 200, page.text)
          if (page.body.records.length === 0) break
          feed.push(...page.body.records.map((r: any) => r.externalId))
          cursor = page.body.nextCursor
        }
        assert.deepStrictEqual(feed.sort(), ids)
        yield* Effect.logInfo(`killed at pages ${killedAt.join(", ")}; ${done!.attempts} runs`)
      }).pipe(Effect.scoped),
    240_000
  )
})
