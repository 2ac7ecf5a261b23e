import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { assert, it, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Redacted, Schedule } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import { freePort, spawnProcess } from "../support/Process.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { tempDir } from "../support/TempDir.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const secret = "graceful-shutdown-secret-0123456789abcdef"
const tenant = "dddddddd-0000-4000-8000-0000000000d1"
const venue = "dddddddd-1111-4000-8000-0000000000d1"

layer(OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer)), {
  timeout: "90 seconds",
  excludeTestServices: true
})("graceful shutdown", (it) => {
  it.effect("SIGTERM lets an in-flight request finish, then the process closes its pools and exits", () =>
    Effect.gen(function* () {
      const stripe = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeStripe()),
        (s) => Effect.promise(() => s.close())
      )
      const apiKey = "sk_test_SlowButSure000000000001"
      stripe.addKey(apiKey)
      const { service, base } = yield* spawnService("integration-shutdown-", {
        JWT_SECRET: secret,
        LOCAL_MASTER_KEY: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(3)))}`,
        STRIPE_API_BASE_URL: stripe.url
      })
      yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
      const token = yield* Effect.promise(() =>
        signToken(Redacted.make(secret), { sub: "u", tenantId: tenant, venueIds: [], role: "admin" })
      )
      stripe.setFailure("slow", { delayMs: 1500 })
      const inFlight = yield* Effect.forkChild(
        Effect.promise(() =>
          fetch(`${base}/api/v1/integrations/connect/stripe`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ venueId: venue, apiKey })
          }).then(async (r) => ({ status: r.status, body: await r.json() }))
        )
      )
      yield* Effect.sleep("400 millis")
      const stopping = yield* Effect.forkChild(service.stop("SIGTERM", "20 seconds"))
      const reply = yield* Fiber.join(inFlight)
      assert.strictEqual(reply.status, 201, "the request that was in flight completes")
      assert.strictEqual(reply.body.status, "connected")
      const exit = yield* Fiber.join(stopping)
      assert.isTrue(exit.code !== null || exit.signal === null, `exited on its own: ${JSON.stringify(exit)}`)
      const refused = yield* Effect.promise(() =>
        fetch(`${base}/monitoring/health/live`).then(
          () => false,
          () => true
        )
      )
      assert.isTrue(refused, "nothing listens after shutdown")
    })
  )

  it.effect("a request stuck in the database gets three quarters of SHUTDOWN_TIMEOUT, then the shutdown goes on", () =>
    Effect.gen(function* () {
      const { service, base } = yield* spawnService("integration-deadline-", {
        JWT_SECRET: secret,
        LOCAL_MASTER_KEY: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(3)))}`,
        // The last quarter (2 s) closes workers and pools: room for a loaded CI machine.
        SHUTDOWN_TIMEOUT: "8 seconds"
      })
      yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
      // Another session holds the table, so the service's query waits inside PostgreSQL.
      const sql = yield* OwnerSql
      const locked = yield* Deferred.make<void>()
      yield* Effect.forkChild(
        sql.withTransaction(
          sql`LOCK TABLE connections IN ACCESS EXCLUSIVE MODE`.pipe(
            Effect.andThen(Deferred.succeed(locked, undefined)),
            Effect.andThen(Effect.never)
          )
        )
      )
      yield* Deferred.await(locked)
      const token = yield* Effect.promise(() =>
        signToken(Redacted.make(secret), { sub: "u", tenantId: tenant, venueIds: [], role: "admin" })
      )
      yield* Effect.forkChild(
        Effect.promise(() =>
          fetch(`${base}/api/v1/integrations/`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null)
        )
      )
      yield* Effect.sleep("500 millis")
      const started = Date.now()
      const exit = yield* service.stop("SIGTERM", "15 seconds")
      const took = Date.now() - started
      assert.deepStrictEqual(exit, { code: 130, signal: null }, service.output())
      assert.isAtLeast(took, 5_900, "the request had its six seconds")
      assert.isBelow(took, 12_000, "then the shutdown went on without it (130: before the deadline)")
    })
  )
})

it.live(
  "a shutdown stuck on a database that does not stop exits at SHUTDOWN_TIMEOUT with code 1 and says why",
  () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir("integration-deadline-")
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      // The embedded default: stopping the service stops its PostgreSQL and waits for it.
      const service = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], {
        env: { PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: secret, SHUTDOWN_TIMEOUT: "2 seconds" }
      })
      yield* service.waitForUrl(`${base}/monitoring/health/ready`, "90 seconds")
      const lockFile = join(dataDir, "postgres", "postmaster.pid")
      const postmaster = Number((yield* Effect.promise(() => readFile(lockFile, "utf8"))).split("\n")[0])
      // Frozen, the server takes no signal until it is thawed: the service's shutdown hangs waiting for it.
      yield* Effect.acquireRelease(
        Effect.sync(() => process.kill(postmaster, "SIGSTOP")),
        () => Effect.sync(() => process.kill(postmaster, "SIGCONT"))
      )
      const started = Date.now()
      const exit = yield* service.stop("SIGTERM", "15 seconds")
      const took = Date.now() - started
      assert.deepStrictEqual(exit, { code: 1, signal: null }, service.output())
      assert.isAtLeast(took, 1_900, "not before the deadline")
      assert.isBelow(took, 6_000, "soon after it")
      assert.include(service.output(), "Shutdown did not finish within 2s (SHUTDOWN_TIMEOUT): exiting.")

      // Thawed, the server finds the shutdown request the exiting service sent it, and stops.
      process.kill(postmaster, "SIGCONT")
      yield* Effect.promise(() =>
        readFile(lockFile, "utf8").then(
          () => "running",
          () => "stopped"
        )
      ).pipe(
        Effect.filterOrFail((state) => state === "stopped"),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "30 seconds" })))
      )
    }),
  120_000
)
