import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeKms } from "../sandbox/FakeKms.ts"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { tempDir } from "../support/TempDir.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const jwtSecret = "credential-check-jwt-secret-1c3e5a7b9d0f2e4c6a8b"
const tenant = "c4ec4ec4-0000-4000-8000-0000000000c4"
const venue = "c4ec4ec4-1111-4000-8000-0000000000c4"
const stripeKey = "sk_test_credentialCheck0123456789abcdef"

const fakes = Effect.acquireRelease(
  Effect.promise(async () => {
    const stripe = await startFakeStripe()
    stripe.addKey(stripeKey, { name: "Credential Check Venue" })
    return { stripe, kms: await startFakeKms({ keys: ["check-master-key"] }) }
  }),
  ({ stripe, kms }) => Effect.promise(() => Promise.all([stripe.close(), kms.close()]))
)

const admin = Effect.promise(() =>
  signToken(Redacted.make(jwtSecret), { sub: "admin", tenantId: tenant, venueIds: [], role: "admin" })
)

const request = (base: string, method: "GET" | "POST", path: string, body?: unknown) =>
  Effect.flatMap(admin, (token) =>
    Effect.promise(async () => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      return { status: response.status, body: await response.json() }
    })
  )

layer(TestDatabaseUrls.layer, { timeout: "60 seconds", excludeTestServices: true })(
  "a master key that does not open the stored credentials",
  (it) => {
    it.effect(
      "is reported at start-up on one error line and by /monitoring/health/deep, and clears with the right key",
      () =>
        Effect.gen(function* () {
          const { stripe, kms } = yield* fakes
          const dataDir = yield* tempDir("integration-credential-check-")
          const common = { DATA_DIR: dataDir, JWT_SECRET: jwtSecret, STRIPE_API_BASE_URL: stripe.url }
          const withKms = {
            ...common,
            KMS_KEY_ID: "check-master-key",
            KMS_ENDPOINT: kms.url,
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "AKIDSANDBOX",
            AWS_SECRET_ACCESS_KEY: "sandbox-secret"
          }

          // 1. The local keyring seals a Stripe key.
          const first = yield* spawnService("unused-", common)
          yield* first.service.waitForUrl(`${first.base}/monitoring/health/ready`, "60 seconds")
          yield* first.service.waitForOutput(/stored credentials: ok: no credentials stored yet/, "20 seconds")
          const connected = yield* request(first.base, "POST", "/api/v1/integrations/connect/stripe", {
            venueId: venue,
            apiKey: stripeKey
          })
          assert.strictEqual(connected.status, 201, JSON.stringify(connected.body))
          yield* first.service.stop()

          // 2. The same data under the KMS: said at once, and the deep check is degraded naming it.
          const second = yield* spawnService("unused-", withKms)
          yield* second.service.waitForUrl(`${second.base}/monitoring/health/ready`, "60 seconds")
          yield* second.service.waitForOutput(
            /ERROR.*stored credentials: 1 of 1 sampled credentials do not open with the configured master key arn:aws:kms:us-east-1:\d+:key\/check-master-key \(they were sealed under local-/,
            "20 seconds"
          )
          const degraded = yield* request(second.base, "GET", "/monitoring/health/deep")
          assert.strictEqual(degraded.status, 503)
          assert.strictEqual(degraded.body.code, "Degraded")
          const checks = JSON.parse(degraded.body.message)
          assert.strictEqual(checks.database, "ok")
          assert.strictEqual(checks.kms, "ok")
          assert.match(checks.credentials, /^1 of 1 sampled credentials do not open with the configured master key/)
          assert.notInclude(second.service.output(), stripeKey)
          yield* second.service.stop()

          // 3. Back on the key that sealed them: ok at start-up and in the deep check.
          const third = yield* spawnService("unused-", common)
          yield* third.service.waitForUrl(`${third.base}/monitoring/health/ready`, "60 seconds")
          yield* third.service.waitForOutput(/stored credentials: ok: 1 sampled credentials open/, "20 seconds")
          const deep = yield* request(third.base, "GET", "/monitoring/health/deep")
          assert.strictEqual(deep.status, 200, JSON.stringify(deep.body))
          assert.match(deep.body.checks.credentials, /^ok: 1 sampled credentials open with master key local-/)
          assert.notInclude(third.service.output(), stripeKey)
        }),
      { timeout: 240_000 }
    )
  }
)
