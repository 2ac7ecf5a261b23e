import { createHmac } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { freePort, type SpawnedProcess, spawnProcess } from "../support/Process.ts"
import { makeRedisServer } from "../support/RedisServer.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const verifier = "fault-test-verifier-token"
const realm = "REALM_FAULTS"

/** The service as `npm start` runs it (ROLE=all), in its own process so it can be killed. */
const startService = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const service = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], { env })
    yield* service.waitForUrl(`http://127.0.0.1:${env.PORT}/monitoring/health/live`, "30 seconds").pipe(Effect.orDie)
    return service
  })

const kill = (service: SpawnedProcess) => service.stop("SIGKILL").pipe(Effect.orDie)

/** One QuickBooks CloudEvent per delivery; each application bumps the realm's pending sync request by one. */
const post = (port: string, id: string) =>
  Effect.tryPromise(async () => {
    const body = JSON.stringify([
      { specversion: "1.0", id, type: "qbo.customer.updated.v1", intuitaccountid: realm, time: "2026-11-01T10:00:00Z" }
    ])
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/integrations/webhooks/quickbooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "intuit-signature": createHmac("sha256", verifier).update(body).digest("base64")
      },
      body,
      signal: AbortSignal.timeout(5_000)
    })
    return response.status
  }).pipe(Effect.orElseSucceed(() => 0))

const Env = Effect.gen(function* () {
  const urls = yield* TestDatabaseUrls
  const redis = yield* makeRedisServer
  return {
    redis,
    env: (port: number): Record<string, string> => ({
      PORT: String(port),
      DATABASE_URL: Redacted.value(urls.owner),
      DATABASE_POOL_SIZE: "4",
      REDIS_URL: Redacted.value(redis.url),
      QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN: verifier,
      JWT_SECRET: "fault-test-jwt",
      DATA_DIR: mkdtempSync(join(tmpdir(), "webhook-faults-")),
      HTTP_REQUEST_LOG: "false",
      // Applications are counted in the pending sync requests, which the sync scheduler would take as jobs.
      SYNC_SCHEDULER: "false",
      WEBHOOK_RECONCILE_INTERVAL: "300 millis",
      WEBHOOK_RECONCILE_AFTER: "1 second",
      WEBHOOK_RETRY_BASE_DELAY: "100 millis",
      WEBHOOK_CLAIM_IDLE: "2 seconds"
    })
  }
})

const seed = Effect.gen(function* () {
  const sql = yield* OwnerSql
  const connection = crypto.randomUUID()
  yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
    VALUES (${connection}, ${crypto.randomUUID()}, ${crypto.randomUUID()}, 'quickbooks', 'oauth2', 'connected', ${realm})`
  return connection
})

const inboxState = Effect.gen(function* () {
  const sql = yield* OwnerSql
  const rows = yield* sql<{ eventId: string; status: string }>`SELECT event_id, status FROM webhook_events`
  const [request] = yield* sql<{ events: number }>`SELECT coalesce(sum(events), 0)::int AS events FROM sync_requests`
  return { rows, applications: request?.events ?? 0 }
})

/** Waits until every stored event was applied, then checks each was applied once and every 2xx is stored. */
const assertAllAppliedOnce = (acknowledged: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const state = yield* inboxState.pipe(
      Effect.flatMap((s) => (s.rows.every((r) => r.status === "processed") ? Effect.succeed(s) : Effect.fail(s))),
      Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 300 }),
      Effect.orDie
    )
    const stored = new Set(state.rows.map((r) => r.eventId))
    for (const id of acknowledged) assert.isTrue(stored.has(id), `acknowledged ${id} is not in the inbox`)
    assert.strictEqual(state.applications, state.rows.length, "each stored event applied exactly once")
    assert.isAtLeast(state.rows.length, acknowledged.size)
  })

const Faults = OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer))

describe("webhook faults", () => {
  layer(Faults, { timeout: 180_000, excludeTestServices: true })((it) => {
    it.effect(
      "SIGKILL at random points while events are posted: every 2xx is stored and applied exactly once",
      () =>
        Effect.gen(function* () {
          const { env } = yield* Env
          const port = yield* freePort
          const acknowledged = new Set<string>()
          let next = 0
          let seeded = false
          for (let round = 0; round < 4; round++) {
            const child = yield* startService(env(port))
            if (!seeded) {
              yield* seed
              seeded = true
            }
            const poster = Effect.gen(function* () {
              while (true) {
                const id = `qbo-kill-${next++}`
                if ((yield* post(String(port), id)) === 200) acknowledged.add(id)
              }
            })
            // Eight concurrent posters until the kill at a random moment.
            yield* Effect.raceFirst(
              Effect.all(
                Array.from({ length: 8 }, () => poster),
                { concurrency: "unbounded", discard: true }
              ),
              Effect.sleep(`${300 + Math.floor(Math.random() * 1_200)} millis`).pipe(Effect.andThen(kill(child)))
            )
            yield* kill(child)
          }
          yield* startService(env(port))
          assert.isAtLeast(acknowledged.size, 20)
          yield* assertAllAppliedOnce(acknowledged)
        }).pipe(Effect.scoped),
      120_000
    )

    it.effect(
      "Redis stopped for 30 s: webhooks still get 2xx and are processed after it returns",
      () =>
        Effect.gen(function* () {
          const { env, redis } = yield* Env
          const port = yield* freePort
          yield* startService(env(port))
          yield* seed
          const acknowledged = new Set<string>()
          const send = (id: string) =>
            Effect.flatMap(post(String(port), id), (status) => {
              assert.strictEqual(status, 200, `${id} during the outage`)
              acknowledged.add(id)
              return Effect.void
            })
          yield* Effect.forEach(
            Array.from({ length: 10 }, (_, i) => `qbo-before-${i}`),
            send
          )
          yield* redis.stop
          const outageEnds = Date.now() + 30_000
          let n = 0
          while (Date.now() < outageEnds) {
            yield* send(`qbo-during-${n++}`)
            yield* Effect.sleep("250 millis")
          }
          const during = yield* inboxState
          assert.isTrue(
            during.rows.some((r) => r.status === "received"),
            "nothing could be queued while Redis was down"
          )
          yield* redis.start
          yield* assertAllAppliedOnce(acknowledged)
        }).pipe(Effect.scoped),
      120_000
    )
  })
})
