import { createHmac } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { connect } from "node:net"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { Redis as IORedis } from "ioredis"
import { rawRequest } from "../support/RawHttp.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { TestTcpProxy } from "../support/TcpProxy.ts"
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

/**
 * 5 MiB declared, 64 KiB sent: the fast path answers 413 from Content-Length and closes the connection without reading
 * the rest (a client still writing the body, as fetch would be, sees the connection reset instead of the answer).
 */
const postHuge = (base: string) =>
  Effect.promise(() =>
    rawRequest({
      port: Number(new URL(base).port),
      method: "POST",
      path: `${path}/stripe`,
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" },
      declare: 5 * 1024 * 1024,
      bodyBytes: 64 * 1024
    })
  )

const requestLine =
  /INFO \(#\d+\) http\.span=\d+ms: Sent HTTP response \{\s+'http\.method': '(\w+)',\s+'http\.url': '([^']+)',\s+'http\.status': (\d+)\s+\}/g

const Deps = OwnerSql.layer.pipe(
  Layer.provideMerge(TestTcpProxy.layer({ host: "127.0.0.1", port: 5432 })),
  Layer.provideMerge(TestDatabaseUrls.layer)
)

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

      const huge = yield* postHuge(base)
      assert.strictEqual(huge.status, 413, "bodies past the limit are refused before any work")

      const unknown = yield* post(base, "paypal", body, {})
      assert.deepStrictEqual([unknown.status, unknown.text], [404, ""], "unknown providers are the router's 404")
      const validation = yield* Effect.promise(() => fetch(`${base}${path}/mailchimp`).then((r) => r.status))
      assert.strictEqual(validation, 200)
      assert.notInclude(service.output(), "Sent HTTP response", "HTTP_REQUEST_LOG=false")

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

  it.effect(
    "a client that aborts mid-body leaks nothing and crashes nothing; the service keeps serving",
    () =>
      Effect.gen(function* () {
        const sql = yield* OwnerSql
        const { service, port, base } = yield* spawnService("webhook-fast-path-abort-", {
          JWT_SECRET: "fast-path-jwt-secret",
          STRIPE_WEBHOOK_SECRET: secret,
          HTTP_REQUEST_LOG: "false"
        })
        yield* service.waitForUrl(`${base}/monitoring/health/live`, "60 seconds")
        yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
        VALUES (${crypto.randomUUID()}, ${crypto.randomUUID()}, ${crypto.randomUUID()}, 'stripe', 'api_key',
          'connected', ${account}) ON CONFLICT DO NOTHING`
        const openFiles = () => readdirSync(`/proc/${service.pid}/fd`).length
        const residentMb = () =>
          Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.pid}/status`, "utf8"))![1]) / 1024

        /** Headers promising 2 MB, half of it sent, then the socket closed: politely (FIN) or torn down (RST). */
        const abortMidBody = (rude: boolean) =>
          Effect.callback<void>((resume) => {
            const socket = connect(port, "127.0.0.1", () => {
              socket.write(
                `POST ${path}/stripe HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
                  `stripe-signature: t=1,v1=00\r\ncontent-length: ${2 * 1024 * 1024}\r\n\r\n`
              )
              socket.write(Buffer.alloc(1024 * 1024, 0x61), () => (rude ? socket.destroy() : socket.end()))
            })
            socket.on("error", () => {})
            // Read what the server sends (nothing, then its FIN), so that the socket can close.
            socket.resume()
            socket.on("close", () => resume(Effect.void))
          })
        const abortMany = (n: number) =>
          Effect.forEach(
            Array.from({ length: n }, (_, i) => i % 2 === 0),
            abortMidBody,
            { concurrency: 20 }
          )

        yield* abortMany(20)
        yield* Effect.sleep("500 millis")
        const filesBefore = openFiles()
        const rssBefore = residentMb()
        yield* abortMany(150)
        yield* Effect.sleep("1 second")
        const body = stripeEvent("evt_after_aborts")
        const after = yield* post(base, "stripe", body, { "stripe-signature": signature(body) })
        assert.strictEqual(after.status, 200, after.text)
        assert.isAtMost(openFiles(), filesBefore + 2, "no socket or handle left behind")
        // 150 half bodies are 150 MB: kept anywhere, they would show (the rest is the process's background work warming
        // up meanwhile: the sync scheduler's first runs, health checks).
        assert.isBelow(residentMb() - rssBefore, 100)
        assert.notMatch(service.output(), /Error|aborted|ECONNRESET/)
      }),
    { timeout: 120_000 }
  )

  it.effect(
    "writes the router's request log line for every delivery; a 503 is logged with its cause",
    () =>
      Effect.gen(function* () {
        // The service's pool reaches PostgreSQL through a proxy the test can cut; migrations go direct.
        const proxy = yield* TestTcpProxy
        const appUrl = new URL(Redacted.value((yield* TestDatabaseUrls).app))
        appUrl.port = String(proxy.port)
        const { service, base } = yield* spawnService("webhook-fast-path-log-", {
          JWT_SECRET: "fast-path-jwt-secret",
          STRIPE_WEBHOOK_SECRET: secret,
          DATABASE_APP_URL: appUrl.toString()
        })
        yield* service.waitForUrl(`${base}/monitoring/health/live`, "60 seconds")
        const body = stripeEvent("evt_logged")
        assert.strictEqual((yield* post(base, "stripe", body, { "stripe-signature": signature(body) })).status, 200)
        const forged = yield* post(base, "stripe", body, { "stripe-signature": signature(body, "whsec_wrong") })
        assert.strictEqual(forged.status, 401)
        const huge = yield* postHuge(base)
        assert.strictEqual(huge.status, 413)
        yield* service.waitForOutput(/'http.status': 413/, "5 seconds")
        // The line `HttpMiddleware.logger` writes for the router: message, method, path without query, status, span.
        const lines = [...service.output().matchAll(requestLine)].map((m) => m.slice(1).join(" "))
        assert.includeMembers(lines, [
          "GET /monitoring/health/live 200",
          "POST /api/v1/integrations/webhooks/stripe 200",
          "POST /api/v1/integrations/webhooks/stripe 401",
          "POST /api/v1/integrations/webhooks/stripe 413"
        ])

        proxy.cut()
        const lost = stripeEvent("evt_while_down")
        const down = yield* post(base, "stripe", lost, { "stripe-signature": signature(lost) }).pipe(
          Effect.ensuring(Effect.sync(() => proxy.restore()))
        )
        assert.strictEqual(down.status, 503)
        yield* service.waitForOutput(/webhook not stored; answered 503/, "5 seconds")
        const logged = service.output().slice(service.output().indexOf("webhook not stored"))
        assert.match(logged, /'webhook\.provider': 'stripe'/)
        assert.match(logged, /'error\.cause': '\w+: /)
        assert.notInclude(service.output(), secret)
      }),
    { timeout: 120_000 }
  )
})
