import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeStripe } from "../sandbox/FakeStripe.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const secret = "graceful-shutdown-secret-0123456789abcdef"
const tenant = "dddddddd-0000-4000-8000-0000000000d1"
const venue = "dddddddd-1111-4000-8000-0000000000d1"

layer(TestDatabaseUrls.layer, { timeout: "90 seconds", excludeTestServices: true })("graceful shutdown", (it) => {
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
})
