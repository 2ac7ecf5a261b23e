import { createHmac } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { Redis as IORedis } from "ioredis"
import { spawnService } from "../support/ServiceProcess.ts"
import { OwnerSql, TestDatabaseUrls } from "../support/TestDatabase.ts"

const secret = "whsec_fast_path"
const account = "acct_fast_path"
const path = "/api/v1/integrations/webhooks"

const stripeEvent = (id: string, fields: object = {}) =>
  JSON.stringify({ id, object: "event", type: "customer.updated", created: 1_790_000_000, account, ...fields })

const signature = (body: string, key = secret) => {
  const t = Math.floor(Date.now() / 1000)
  return `t=${t},v1=${createHmac("sha256", key).update(`${t}.${body}`).digest("hex")}`
}

const post = (base: string, provider: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}${path}/${provider}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body
    })
    return { status: response.status, text: await response.text(), requestId: response.headers.get("x-request-id") }
  })

const Deps = OwnerSql.layer.pipe(Layer.provideMerge(TestDatabaseUrls.layer))

// The Node entry point answers webhook deliveries ahead of Effect's router: the same answers as the router's raw
// routes (covered by Webhooks.test.ts), and everything else still reaches the router.
layer(Deps, { timeout: "90 seconds", excludeTestServices: true })("webhook fast path (Node)", (it) => {
  it.effect("verifies, stores before the 2xx, refuses without detail, and leaves other requests to the router", () =>
    Effect.gen(function* () {
      const sql = yield* OwnerSql
      const prefix = `test:fastpath:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          const redis = new IORedis("redis://127.0.0.1:6379")
          const keys = await redis.keys(`${prefix}*`)
          if (keys.length > 0) await redis.del(...keys)
          redis.disconnect()
        })
      )
      const { service, base } = yield* spawnService("webhook-fast-path-", {
        JWT_SECRET: "fast-path-jwt-secret",
        REDIS_URL: "redis://127.0.0.1:6379",
        REDIS_QUEUE_PREFIX: prefix,
        STRIPE_WEBHOOK_SECRET: secret,
        HTTP_REQUEST_LOG: "false"
      })
      yield* service.waitForUrl(`${base}/monitoring/health/live`, "60 seconds")
      yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
        VALUES (${crypto.randomUUID()}, ${crypto.randomUUID()}, ${crypto.randomUUID()}, 'stripe', 'api_key',
          'connected', ${account})`

      const body = stripeEvent("evt_fast_1")
      const first = yield* post(base, "stripe", body, { "stripe-signature": signature(body), "x-request-id": "req-1" })
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(JSON.parse(first.text), { received: true, stored: 1, duplicates: 0, unroutable: 0 })
      assert.strictEqual(first.requestId, "req-1")
      const [row] = yield* sql<{ status: string }>`SELECT status FROM webhook_events WHERE event_id = 'evt_fast_1'`
      assert.isDefined(row, "stored before the 2xx")

      const again = yield* post(base, "stripe", body, { "stripe-signature": signature(body) })
      assert.strictEqual(again.status, 200)
      assert.deepStrictEqual(JSON.parse(again.text), { received: true, stored: 0, duplicates: 1, unroutable: 0 })
      assert.match(again.requestId ?? "", /^[0-9a-f-]{36}$/)

      const forged = yield* post(base, "stripe", stripeEvent("evt_fast_2"), {
        "stripe-signature": signature(stripeEvent("evt_fast_2"), "whsec_wrong")
      })
      assert.deepStrictEqual([forged.status, forged.text], [401, ""])
      const unsigned = yield* post(base, "stripe", stripeEvent("evt_fast_3"), {})
      assert.deepStrictEqual([unsigned.status, unsigned.text], [401, ""])
      const unconfigured = yield* post(base, "square", "{}", { "x-square-hmacsha256-signature": "AAAA" })
      assert.strictEqual(unconfigured.status, 401, "no secret configured: refused")

      const malformed = stripeEvent("", { id: 42 })
      const bad = yield* post(base, "stripe", malformed, { "stripe-signature": signature(malformed) })
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(JSON.parse(bad.text).code, "MalformedWebhook")
      const [quarantined] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_quarantine`
      assert.strictEqual(quarantined?.n, 1)

      const huge = yield* post(base, "stripe", "x".repeat(5 * 1024 * 1024), { "stripe-signature": "t=1,v1=00" })
      assert.strictEqual(huge.status, 413, "bodies past the limit are refused before any work")

      const unknown = yield* post(base, "paypal", body, {})
      assert.deepStrictEqual([unknown.status, unknown.text], [404, ""], "unknown providers are the router's 404")
      const validation = yield* Effect.promise(() => fetch(`${base}${path}/mailchimp`).then((r) => r.status))
      assert.strictEqual(validation, 200)

      const processed = yield* sql<{
        status: string
      }>`SELECT status FROM webhook_events WHERE event_id = 'evt_fast_1'`.pipe(
        Effect.flatMap(([r]) =>
          r?.status === "ignored" || r?.status === "processed" ? Effect.succeed(r) : Effect.fail(r)
        ),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }),
        Effect.orDie
      )
      assert.oneOf(processed.status, ["ignored", "processed"], "the worker applied the event it was offered")
    })
  )
})
