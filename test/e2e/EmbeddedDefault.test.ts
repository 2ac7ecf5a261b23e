import { readFileSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, it } from "@effect/vitest"
import { type Duration, Effect, Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import { startFakeSquare } from "../sandbox/FakeSquare.ts"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import { freePort, runProcess, type SpawnedProcess, spawnProcess } from "../support/Process.ts"
import { tempDir } from "../support/TempDir.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const tenant = "eeeeeeee-0000-4000-8000-0000000000e1"
const venue = "eeeeeeee-1111-4000-8000-0000000000e1"
const apiKey = "sk_test_embeddedDefault0123456789abc"

const fake = <A extends { readonly close: () => Promise<void> }>(start: () => Promise<A>) =>
  Effect.acquireRelease(Effect.promise(start), (server) => Effect.promise(() => server.close()))

/** One JSON call; a request the service does not answer within 15 s fails the test instead of hanging it. */
const request = (base: string, token: string, method: "GET" | "POST", path: string, body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000)
    }).catch((cause) => ({ status: 0, json: async () => String(cause) }))
    return { status: response.status, body: (await response.json()) as any }
  })

/** The service with exactly this environment (no DATABASE_URL: the embedded default), once it is ready. */
const boot = (env: Record<string, string>, timeout: Duration.Input = "120 seconds") =>
  Effect.gen(function* () {
    const service = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], { cwd: repoRoot, env })
    yield* service.waitForUrl(`http://127.0.0.1:${env.PORT}/monitoring/health/ready`, timeout)
    return service
  })

/** SIGTERM, then 130: the interrupted-only exit of runMain, every finalizer (the database's stop included) ran. */
const stop = (service: SpawnedProcess) =>
  Effect.gen(function* () {
    const exit = yield* service.stop("SIGTERM")
    assert.deepStrictEqual(exit, { code: 130, signal: null }, service.output())
  })

/** The pid in the cluster's lock file, or undefined when no server runs on it. */
const postmaster = (dataDir: string) =>
  Effect.promise(() =>
    readFile(join(dataDir, "postgres", "postmaster.pid"), "utf8").then(
      (text) => Number(text.split("\n")[0]),
      () => undefined
    )
  )

/** Whether the process runs; a zombie (exited, not yet collected by its parent) does not. */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return true
  }
}

/** Everything after `id:` in each keyring entry: the key material. */
const keyringMaterial = (text: string) =>
  text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => entry.slice(entry.indexOf(":") + 1))

it.live(
  "with only PORT and DATA_DIR the service runs on an embedded PostgreSQL, a generated JWT secret and a local keyring, and keeps its data across a restart and a restart after SIGKILL",
  () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir("integration-embedded-")
      const stripe = yield* fake(() => startFakeStripe())
      const { accountId } = stripe.addKey(apiKey, { name: "Embedded Hall" })
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const env = { PORT: String(port), DATA_DIR: dataDir, STRIPE_API_BASE_URL: stripe.url }

      // First start: initdb, then the migrations.
      const first = yield* boot(env)
      const token = (yield* runProcess(process.execPath, ["adapters/main/token.ts", "--role", "admin"], {
        cwd: repoRoot,
        env: { DATA_DIR: dataDir }
      })).trim()
      assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
      const created = yield* request(base, token, "POST", "/api/v1/integrations/connect/stripe", {
        venueId: venue,
        apiKey
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      assert.strictEqual(created.body.accountId, accountId)
      const listed = yield* request(base, token, "GET", "/api/v1/integrations/")
      assert.deepStrictEqual(
        listed.body.map((c: any) => [c.venueId, c.provider, c.status]),
        [[venue, "stripe", "connected"]]
      )
      yield* stop(first)
      assert.isUndefined(yield* postmaster(dataDir), "the database stopped with the service")

      // Restart.
      const second = yield* boot(env, "60 seconds")
      assert.deepStrictEqual((yield* request(base, token, "GET", "/api/v1/integrations/")).body, listed.body)
      const tested = yield* request(base, token, "POST", "/api/v1/integrations/health/stripe/test", { venueId: venue })
      assert.strictEqual(tested.status, 200, JSON.stringify(tested.body))
      assert.strictEqual(tested.body.ok, true)
      const afterTest = yield* request(base, token, "GET", "/api/v1/integrations/")

      // Restart after SIGKILL: the killed service's database is still running and holds the data directory.
      const orphan = yield* postmaster(dataDir)
      yield* second.stop("SIGKILL")
      assert.isTrue(orphan !== undefined && isAlive(orphan), "the killed service's database outlives it")
      const third = yield* boot(env, "60 seconds")
      assert.include(third.output(), `Stopping the embedded PostgreSQL (pid ${orphan}) left running by a service`)
      assert.isFalse(isAlive(orphan!), "the leftover server was stopped")
      assert.deepStrictEqual((yield* request(base, token, "GET", "/api/v1/integrations/")).body, afterTest.body)
      yield* stop(third)
      assert.isUndefined(yield* postmaster(dataDir))

      const firstOutput = first.output()
      assert.include(firstOutput, `Creating the embedded PostgreSQL cluster in ${dataDir}/postgres`)
      assert.include(firstOutput, `DATABASE_URL is not set: running an embedded PostgreSQL in ${dataDir}/postgres`)
      assert.include(firstOutput, `JWT_SECRET was not configured: generated a development secret into ${dataDir}`)
      assert.include(firstOutput, `DEVELOPMENT ONLY: master keys are newly generated and stored in ${dataDir}`)
      assert.notInclude(second.output(), "Creating the embedded PostgreSQL cluster")
      assert.include(second.output(), `DEVELOPMENT ONLY: master keys are stored in ${dataDir}`)

      const jwtSecret = (yield* Effect.promise(() => readFile(join(dataDir, "jwt-secret"), "utf8"))).trim()
      const material = keyringMaterial(yield* Effect.promise(() => readFile(join(dataDir, "keyring"), "utf8")))
      assert.isAbove(jwtSecret.length, 20)
      assert.isNotEmpty(material)
      for (const secret of [apiKey, jwtSecret, ...material]) {
        for (const output of [firstOutput, second.output(), third.output()]) assert.notInclude(output, secret)
      }
    }),
  300_000
)

it.live(
  "on the embedded default, OAuth refresh and reconnect answer for QuickBooks and Square, ten at once too, and the service stays ready",
  () =>
    Effect.gen(function* () {
      const quickbooks = yield* fake(() => startFakeQuickBooks())
      const square = yield* fake(() => startFakeSquare())
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const jwtSecret = "embedded-oauth-secret-0123456789abcdef01"
      const service = yield* boot({
        PORT: String(port),
        DATA_DIR: yield* tempDir("integration-embedded-oauth-"),
        JWT_SECRET: jwtSecret,
        PUBLIC_BASE_URL: "https://integrations.example.test",
        SQUARE_CLIENT_ID: square.clientId,
        SQUARE_CLIENT_SECRET: square.clientSecret,
        SQUARE_BASE_URL: square.url,
        QUICKBOOKS_CLIENT_ID: quickbooks.clientId,
        QUICKBOOKS_CLIENT_SECRET: quickbooks.clientSecret,
        QUICKBOOKS_BASE_URL: quickbooks.url,
        QUICKBOOKS_OAUTH_BASE_URL: quickbooks.url
      })
      const token = yield* Effect.promise(() =>
        signToken(Redacted.make(jwtSecret), { sub: "u", tenantId: tenant, venueIds: [], role: "admin" })
      )
      const call = (method: "GET" | "POST", path: string, body?: unknown) => request(base, token, method, path, body)

      for (const [provider, fakeProvider] of [
        ["quickbooks", quickbooks],
        ["square", square]
      ] as const) {
        const started = yield* call("POST", `/api/v1/integrations/connect/${provider}`, { venueId: venue })
        assert.strictEqual(started.status, 200, JSON.stringify(started.body))
        const query = yield* Effect.promise(() => fakeProvider.consent(started.body.authorizationUrl))
        const connected = yield* call(
          "GET",
          `/api/v1/integrations/oauth/callback/${provider}?${new URLSearchParams(query)}`
        )
        assert.strictEqual(connected.status, 200, JSON.stringify(connected.body))

        // The refresher holds the token row's lock on one connection and commits the rotated pair on another.
        const refreshed = yield* call("POST", `/api/v1/integrations/oauth/refresh/${provider}`, { venueId: venue })
        assert.strictEqual(refreshed.status, 200, `${provider} refresh: ${JSON.stringify(refreshed.body)}`)
        assert.strictEqual(refreshed.body.status, "connected")
        const reconnected = yield* call("POST", `/api/v1/integrations/${provider}/reconnect`, { venueId: venue })
        assert.strictEqual(reconnected.status, 200, `${provider} reconnect: ${JSON.stringify(reconnected.body)}`)

        const many = yield* Effect.all(
          Array.from({ length: 10 }, () =>
            call("POST", `/api/v1/integrations/oauth/refresh/${provider}`, { venueId: venue })
          ),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          many.map((reply) => reply.status),
          Array.from({ length: 10 }, () => 200),
          JSON.stringify(many.map((reply) => reply.body))
        )
        assert.strictEqual(fakeProvider.stats().staleRefreshes, 0, "never presented a rotated-away refresh token")
      }
      const ready = yield* Effect.promise(() => fetch(`${base}/monitoring/health/ready`).then((r) => r.status))
      assert.strictEqual(ready, 200)
      yield* stop(service)
    }),
  300_000
)

it.live(
  "services with different DATA_DIRs run side by side; a second service on the same DATA_DIR is refused on one line",
  () =>
    Effect.gen(function* () {
      const [portA, portB, portC] = [yield* freePort, yield* freePort, yield* freePort]
      const dirA = yield* tempDir("integration-embedded-a-")
      const envA = { PORT: String(portA), DATA_DIR: dirA, JWT_SECRET: "side-by-side-secret-a-0123456789abcdef" }
      const envB = {
        PORT: String(portB),
        DATA_DIR: yield* tempDir("integration-embedded-b-"),
        JWT_SECRET: "side-by-side-secret-b-0123456789abcdef"
      }
      const [a, b] = yield* Effect.all([boot(envA), boot(envB)], { concurrency: 2 })

      const intruder = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], {
        cwd: repoRoot,
        env: { ...envA, PORT: String(portC) }
      })
      const exit = yield* intruder.exited.pipe(Effect.timeout("60 seconds"))
      assert.deepStrictEqual(exit, { code: 1, signal: null }, intruder.output())
      assert.include(intruder.output(), `${dirA}/postgres is in use by the service with pid ${a.pid}`)
      const readyA = yield* Effect.promise(() => fetch(`http://127.0.0.1:${portA}/monitoring/health/ready`))
      assert.strictEqual(readyA.status, 200, "the first service keeps its database")
      yield* stop(a)
      yield* stop(b)
    }),
  300_000
)

it.live(
  "under Deno (`deno task start`) the embedded default is the same PostgreSQL, stopped with the service",
  () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir("integration-embedded-deno-")
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const jwtSecret = "embedded-deno-secret-0123456789abcdef0123"
      const service = yield* spawnProcess(join(repoRoot, "node_modules", ".bin", "deno"), ["task", "start"], {
        cwd: repoRoot,
        env: { PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: jwtSecret }
      })
      yield* service.waitForUrl(`${base}/monitoring/health/ready`, "120 seconds")
      assert.include(service.output(), `DATABASE_URL is not set: running an embedded PostgreSQL in ${dataDir}/postgres`)
      const token = yield* Effect.promise(() =>
        signToken(Redacted.make(jwtSecret), { sub: "u", tenantId: tenant, venueIds: [], role: "admin" })
      )
      assert.deepStrictEqual(yield* request(base, token, "GET", "/api/v1/integrations/"), { status: 200, body: [] })
      assert.isDefined(yield* postmaster(dataDir))
      yield* stop(service)
      assert.isUndefined(yield* postmaster(dataDir), "the database stopped with the service")
    }),
  300_000
)
