import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, it } from "@effect/vitest"
import { type Duration, Effect } from "effect"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import { freePort, runProcess, type SpawnedProcess, spawnProcess } from "../support/Process.ts"
import { tempDir } from "../support/TempDir.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const venue = "eeeeeeee-1111-4000-8000-0000000000e1"
const apiKey = "sk_test_embeddedDefault0123456789abc"

const fakeStripe = Effect.acquireRelease(
  Effect.promise(() => startFakeStripe()),
  (stripe) => Effect.promise(() => stripe.close())
)

const request = (base: string, token: string, method: "GET" | "POST", path: string, body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: response.status, body: (await response.json()) as any }
  })

/** Everything after `id:` in each keyring entry: the key material. */
const keyringMaterial = (text: string) =>
  text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => entry.slice(entry.indexOf(":") + 1))

it.live(
  "with only PORT and DATA_DIR the service runs on embedded PGlite, a generated JWT secret and a local keyring, and keeps its data across a restart",
  () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir("integration-embedded-")
      const stripe = yield* fakeStripe
      const { accountId } = stripe.addKey(apiKey, { name: "Embedded Hall" })
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const env = { PORT: String(port), DATA_DIR: dataDir, STRIPE_API_BASE_URL: stripe.url }
      const boot = (timeout: Duration.Input) =>
        Effect.gen(function* () {
          const service = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], { cwd: repoRoot, env })
          yield* service.waitForUrl(`${base}/monitoring/health/ready`, timeout)
          return service
        })
      const stop = (service: SpawnedProcess) =>
        Effect.gen(function* () {
          const exit = yield* service.stop("SIGTERM")
          assert.deepStrictEqual(exit, { code: 130, signal: null }, service.output())
        })

      // First boot runs initdb inside PGlite: seconds, not milliseconds.
      const first = yield* boot("90 seconds")
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

      const second = yield* boot("60 seconds")
      const relisted = yield* request(base, token, "GET", "/api/v1/integrations/")
      assert.deepStrictEqual(relisted.body, listed.body)
      const tested = yield* request(base, token, "POST", "/api/v1/integrations/health/stripe/test", { venueId: venue })
      assert.strictEqual(tested.status, 200, JSON.stringify(tested.body))
      assert.strictEqual(tested.body.ok, true)
      yield* stop(second)

      const firstOutput = first.output()
      assert.include(firstOutput, `DATABASE_URL is not set: running on embedded PGlite in ${dataDir}/pgdata`)
      assert.include(firstOutput, `JWT_SECRET was not configured: generated a development secret into ${dataDir}`)
      assert.include(firstOutput, `DEVELOPMENT ONLY: master keys are newly generated and stored in ${dataDir}`)
      assert.include(second.output(), `DEVELOPMENT ONLY: master keys are stored in ${dataDir}`)

      const jwtSecret = (yield* Effect.promise(() => readFile(join(dataDir, "jwt-secret"), "utf8"))).trim()
      const material = keyringMaterial(yield* Effect.promise(() => readFile(join(dataDir, "keyring"), "utf8")))
      assert.isAbove(jwtSecret.length, 20)
      assert.isNotEmpty(material)
      for (const secret of [apiKey, jwtSecret, ...material]) {
        for (const output of [firstOutput, second.output()]) assert.notInclude(output, secret)
      }
    }),
  180_000
)
