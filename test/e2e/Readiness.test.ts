import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { TestTcpProxy } from "../support/TcpProxy.ts"
import { call, testAppWith } from "../support/TestApp.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

// The service's pool reaches PostgreSQL through a proxy the test can cut;
// migrations go direct.
const App = testAppWith(
  Effect.gen(function* () {
    const urls = yield* TestDatabaseUrls
    const proxy = yield* TestTcpProxy
    const app = new URL(Redacted.value(urls.app))
    app.port = String(proxy.port)
    return { DATABASE_APP_URL: app.toString() }
  })
).pipe(Layer.provideMerge(TestTcpProxy.layer({ host: "127.0.0.1", port: 5432 })))

layer(App, { timeout: "60 seconds" })("readiness", (it) => {
  it.effect("is 503 while PostgreSQL is unreachable and 200 again once it is back; liveness stays 200", () =>
    Effect.gen(function* () {
      const proxy = yield* TestTcpProxy
      assert.strictEqual((yield* call("GET", "/monitoring/health/ready")).status, 200)
      proxy.cut()
      const down = yield* call("GET", "/monitoring/health/ready")
      assert.strictEqual(down.status, 503)
      assert.strictEqual(down.body.code, "NotReady")
      assert.strictEqual((yield* call("GET", "/monitoring/health/live")).status, 200)
      proxy.restore()
      const back = yield* call("GET", "/monitoring/health/ready").pipe(
        Effect.filterOrFail((r) => r.status === 200),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ times: 25 })))
      )
      assert.strictEqual(back.status, 200)
    })
  )
})

// The same service with REDIS_URL set, its Redis reached through a proxy the test can cut: queues, budgets and
// breakers live there, so readiness answers for Redis too. Its own key prefixes keep it apart from other tests; the
// real clock, so the wait for the reconnection is a real one.
const prefix = `it-ready-${Date.now().toString(36)}:`
const AppOnRedis = testAppWith(
  Effect.map(TestTcpProxy, (proxy) => ({
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    REDIS_QUEUE_PREFIX: `${prefix}queue:`,
    CIRCUIT_BREAKER_PREFIX: `${prefix}breaker:`,
    RATE_LIMIT_PREFIX: `${prefix}rate:`
  }))
).pipe(Layer.provideMerge(TestTcpProxy.layer({ host: "127.0.0.1", port: 6379 })))

layer(AppOnRedis, { timeout: "60 seconds", excludeTestServices: true })("readiness with Redis configured", (it) => {
  it.effect("checks Redis: 503 while it is unreachable, 200 with both checks once it is back; liveness stays 200", () =>
    Effect.gen(function* () {
      const proxy = yield* TestTcpProxy
      const ready = yield* call("GET", "/monitoring/health/ready")
      assert.strictEqual(ready.status, 200, ready.text)
      assert.deepStrictEqual(ready.body.checks, { database: "ok", redis: "ok" })
      proxy.cut()
      const down = yield* call("GET", "/monitoring/health/ready")
      assert.strictEqual(down.status, 503, down.text)
      assert.strictEqual(down.body.code, "NotReady")
      assert.match(down.body.message, /redis/)
      assert.strictEqual((yield* call("GET", "/monitoring/health/live")).status, 200)
      proxy.restore()
      const back = yield* call("GET", "/monitoring/health/ready").pipe(
        Effect.filterOrFail((r) => r.status === 200),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ times: 50 })))
      )
      assert.deepStrictEqual(back.body.checks, { database: "ok", redis: "ok" })
    })
  )
})
