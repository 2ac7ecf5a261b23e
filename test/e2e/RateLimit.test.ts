import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Redis as IORedis } from "ioredis"
import { SignJWT } from "jose"
import { spawnService } from "../support/ServiceProcess.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const jwtSecret = "rate-limit-jwt-secret-0123456789abcdef"
const tenant = "aaaaaaaa-0000-4000-8000-0000000000f1"
const otherTenant = "bbbbbbbb-0000-4000-8000-0000000000f2"

const tokenFor = (tenantId: string) =>
  Effect.promise(() =>
    new SignJWT({ tenant_id: tenantId, venue_ids: [], role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("user-1")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(jwtSecret))
  )

const list = (base: string, token?: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/api/v1/integrations/`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
    })
    return { status: response.status, headers: response.headers, body: await response.json() }
  })

layer(TestDatabaseUrls.layer, { timeout: "120 seconds", excludeTestServices: true })("tenant rate limit", (it) => {
  it.effect(
    "two processes draw on one budget per tenant in Redis; past it 429 with Retry-After and the RateLimit headers",
    () =>
      Effect.gen(function* () {
        const prefix = `test:ratelimit:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            const redis = new IORedis("redis://127.0.0.1:6379")
            const keys = await redis.keys(`${prefix}*`)
            if (keys.length > 0) await redis.del(...keys)
            redis.disconnect()
          })
        )
        const env = {
          JWT_SECRET: jwtSecret,
          REDIS_URL: "redis://127.0.0.1:6379",
          RATE_LIMIT_PREFIX: prefix,
          REDIS_QUEUE_PREFIX: `${prefix}queue:`,
          API_RATE_LIMIT: "5",
          API_RATE_WINDOW: "1 minute",
          ROLE: "api",
          HTTP_REQUEST_LOG: "false"
        }
        const a = yield* spawnService("rate-limit-a-", env)
        const b = yield* spawnService("rate-limit-b-", env)
        yield* Effect.all(
          [a, b].map(({ service, base }) => service.waitForUrl(`${base}/monitoring/health/live`, "90 seconds")),
          {
            concurrency: 2
          }
        )
        const token = yield* tokenFor(tenant)

        const remaining: Array<string | null> = []
        for (const base of [a.base, b.base, a.base, b.base, a.base]) {
          const reply = yield* list(base, token)
          assert.strictEqual(reply.status, 200)
          assert.strictEqual(reply.headers.get("ratelimit-limit"), "5")
          assert.match(reply.headers.get("ratelimit-reset") ?? "", /^\d+$/)
          remaining.push(reply.headers.get("ratelimit-remaining"))
        }
        assert.deepStrictEqual(remaining, ["4", "3", "2", "1", "0"], "one budget across both processes")

        const refused = yield* list(b.base, token)
        assert.strictEqual(refused.status, 429)
        assert.strictEqual(refused.body._tag, "TooManyRequests")
        assert.strictEqual(refused.body.code, "RateLimited")
        const retryAfter = Number(refused.headers.get("retry-after"))
        assert.isTrue(retryAfter >= 1 && retryAfter <= 12, `Retry-After ${retryAfter}: one token refills every 12 s`)
        assert.strictEqual(refused.headers.get("ratelimit-remaining"), "0")
        assert.strictEqual(refused.headers.get("ratelimit-limit"), "5")
        assert.isNotNull(refused.headers.get("x-request-id"))

        assert.strictEqual((yield* list(a.base, yield* tokenFor(otherTenant))).status, 200, "another tenant's budget")
        assert.strictEqual((yield* list(a.base)).status, 401, "no token: refused before the limiter")
      }).pipe(Effect.scoped),
    { timeout: 180_000 }
  )
})
