import { createHmac, randomBytes } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Option } from "effect"
import { StandardWebhookSender } from "../../adapters/notify/StandardWebhookSender.ts"
import { PostgresHealthStore } from "../../adapters/postgres/PostgresHealthStore.ts"
import { PostgresNotificationOutbox } from "../../adapters/postgres/PostgresNotificationOutbox.ts"
import { SdkHealthProbe } from "../../adapters/providers/SdkHealthProbe.ts"
import { type CheckReport, HealthMonitor } from "../../application/operations/HealthMonitor.ts"
import { NotificationDelivery } from "../../application/operations/NotificationDelivery.ts"
import { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { EventPublisher } from "../../ports/EventPublisher.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import type { DueCheck } from "../../ports/operations/HealthStore.ts"
import { asTenant, type Caller, call, TestApp, TestWorld } from "../support/TestApp.ts"

const tenant = TenantId.make("aaaaaaaa-0000-4000-8000-0000000000b3")
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const secretKey = randomBytes(24)
const secret = `whsec_${secretKey.toString("base64")}`

interface Received {
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The operator's endpoint: records every delivery; answers `status()` (200 unless told otherwise). */
class Receiver extends Context.Service<
  Receiver,
  { readonly url: string; readonly received: Array<Received>; status: number }
>()("test/HealthMonitor/Receiver") {
  static readonly layer = Layer.effect(
    Receiver,
    Effect.acquireRelease(
      Effect.promise(async () => {
        const state = { url: "", received: [] as Array<Received>, status: 200 }
        const server = createServer((req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (c: Buffer) => chunks.push(c))
          req.on("end", () => {
            state.received.push({
              headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
              body: Buffer.concat(chunks).toString("utf8")
            })
            res.writeHead(state.status).end()
          })
        })
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
        state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
        return { state, server }
      }),
      ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
    ).pipe(Effect.map(({ state }) => state))
  )
}

/** The Standard Webhooks check, written here from the spec rather than with the sender's own code. */
const verified = (r: Received) => {
  const id = r.headers["webhook-id"] as string
  const timestamp = r.headers["webhook-timestamp"] as string
  const expected = createHmac("sha256", secretKey).update(`${id}.${timestamp}.${r.body}`).digest("base64")
  return (r.headers["webhook-signature"] ?? "").split(" ").includes(`v1,${expected}`)
}

/** The monitor and the delivery loop over the app's own services, configured for this test. */
const Monitoring = Layer.unwrap(
  Effect.map(Receiver, (receiver) =>
    Layer.mergeAll(HealthMonitor.layer, NotificationDelivery.layer).pipe(
      Layer.provide(
        Layer.mergeAll(
          PostgresHealthStore.layer,
          PostgresNotificationOutbox.layer,
          SdkHealthProbe.layer,
          StandardWebhookSender.layer
        )
      ),
      Layer.provide(
        ConfigProvider.layer(
          ConfigProvider.fromUnknown({
            HEALTH_CHECK_INTERVAL: "1 millis",
            NOTIFY_WEBHOOK_URL: receiver.url,
            NOTIFY_WEBHOOK_SECRET: secret,
            NOTIFY_RETRY_BASE: "1 millis",
            NOTIFY_MAX_ATTEMPTS: "3"
          })
        )
      )
    )
  )
)

const App = Monitoring.pipe(Layer.provideMerge(TestApp), Layer.provideMerge(Receiver.layer))

const healthEvents = (connectionId: string) =>
  Effect.gen(function* () {
    const events = yield* (yield* EventPublisher).list(tenant)
    return events.filter((e) => e.connectionId === connectionId && e.type === "connection.health_changed")
  }).pipe(Effect.orDie)

const deliveredFor = (receiver: Receiver["Service"], connectionId: string) =>
  receiver.received.filter((r) => JSON.parse(r.body).data?.connectionId === connectionId)

const dueOf = (connection: { id: string; venueId: string }, provider: Provider): DueCheck => ({
  tenantId: tenant,
  connectionId: ConnectionId.make(connection.id),
  venueId: VenueId.make(connection.venueId),
  provider
})

layer(App, { timeout: "120 seconds", excludeTestServices: true })("health monitoring and notifications", (it) => {
  it.effect(
    "healthy → failing (5xx) → unhealthy → recovered: one event and one signed notification per transition",
    () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const receiver = yield* Receiver
        const monitor = yield* HealthMonitor
        const delivery = yield* NotificationDelivery
        const apiKey = "sk_test_healthmonitor0123456789"
        const venueId = crypto.randomUUID()
        stripe.addKey(apiKey)
        const created = yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId, apiKey }
        })
        assert.strictEqual(created.status, 201, created.text)
        const connectionId = created.body.id as string

        // The periodic path hands the new connection out (scheduled at its offset in a 1 ms interval here) and finds it healthy.
        let mine: CheckReport | undefined
        for (let i = 0; i < 10 && mine === undefined; i++) {
          mine = (yield* monitor.checkDue()).checked.find((r) => r.due.connectionId === connectionId)
          yield* Effect.sleep("5 millis")
        }
        assert.strictEqual(mine?.decision.next.status, "healthy")
        assert.isNull(mine?.decision.event)
        const due = dueOf({ id: connectionId, venueId }, "stripe")

        stripe.setFailure("unavailable")
        const failing: Array<string> = []
        for (let i = 0; i < 4; i++) {
          const report = yield* monitor.check(due)
          const r = Option.getOrThrow(report)
          assert.strictEqual(r.probe?.outcome, "server_error")
          failing.push(r.decision.next.status)
        }
        assert.deepStrictEqual(failing, ["degraded", "degraded", "unhealthy", "unhealthy"])

        stripe.setFailure(null)
        const recovering: Array<string> = []
        for (let i = 0; i < 20 && recovering.at(-1) !== "healthy"; i++) {
          const r = Option.getOrThrow(yield* monitor.check(due))
          assert.strictEqual(r.probe?.outcome, "ok")
          recovering.push(r.decision.next.status)
        }
        assert.strictEqual(recovering.at(-1), "healthy")
        // The error rate over the window keeps it degraded until the failures are a small share of it.
        assert.strictEqual(recovering[0], "degraded")

        const events = yield* healthEvents(connectionId)
        assert.deepStrictEqual(
          events.map((e) => `${e.payload.from}→${e.payload.to}`),
          ["healthy→degraded", "degraded→unhealthy", "unhealthy→degraded", "degraded→healthy"]
        )
        assert.deepStrictEqual(
          events.map((e) => e.payload.recovery),
          ["false", "false", "false", "true"]
        )

        // Two delivery loops at once (two processes): each notification goes out once.
        yield* Effect.all([delivery.deliverDue(), delivery.deliverDue()], { concurrency: 2 })
        const delivered = deliveredFor(receiver, connectionId)
        assert.strictEqual(delivered.length, 4)
        for (const r of delivered) assert.isTrue(verified(r), "the signature verifies with the shared secret")
        assert.deepStrictEqual(delivered.map((r) => r.headers["webhook-id"]).sort(), events.map((e) => e.id).sort())
        assert.deepStrictEqual(
          delivered
            .map((r) => JSON.parse(r.body))
            .map((b) => `${b.type}:${b.data.from}→${b.data.to}`)
            .sort(),
          events.map((e) => `connection.health_changed:${e.payload.from}→${e.payload.to}`).sort()
        )
        const tampered = { ...(delivered[0] as Received), body: `${(delivered[0] as Received).body} ` }
        assert.isFalse(verified(tampered))
        // Nothing is left to send.
        assert.strictEqual((yield* delivery.deliverDue()).length, 0)
      })
  )

  it.effect("a QuickBooks refresh token a few days from its idle expiry is reported ahead of time", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const receiver = yield* Receiver
      const monitor = yield* HealthMonitor
      const delivery = yield* NotificationDelivery
      const venueId = crypto.randomUUID()
      const started = yield* call("POST", "/api/v1/integrations/connect/quickbooks", {
        caller: admin,
        body: { venueId }
      })
      assert.strictEqual(started.status, 200, started.text)
      const query = yield* Effect.promise(() => world.quickbooks.consent(started.body.authorizationUrl))
      const done = yield* call("GET", `/api/v1/integrations/oauth/callback/quickbooks?${new URLSearchParams(query)}`)
      assert.strictEqual(done.status, 200, done.text)
      const connectionId = done.body.connection.id as string
      const due = dueOf({ id: connectionId, venueId }, "quickbooks")

      const fresh = Option.getOrThrow(yield* monitor.check(due))
      assert.strictEqual(fresh.probe?.outcome, "ok", fresh.probe?.detail ?? "")
      assert.strictEqual(fresh.decision.next.status, "healthy")

      // 95 idle days later, as far as the token is concerned: 5 days left.
      yield* asTenant(
        tenant,
        (sql) =>
          sql`UPDATE oauth_tokens SET refresh_expires_at = now() + interval '5 days' WHERE connection_id = ${connectionId}`
      )
      const near = Option.getOrThrow(yield* monitor.check(due))
      assert.strictEqual(near.probe?.outcome, "ok")
      assert.strictEqual(near.decision.next.status, "degraded")
      assert.deepStrictEqual(near.decision.next.reasons, ["credential_expiring"])
      const events = yield* healthEvents(connectionId)
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]?.payload.reasons, "credential_expiring")
      const expiresAt = new Date(events[0]?.payload.credentialExpiresAt ?? 0).getTime()
      assert.approximately(expiresAt - Date.now(), 5 * 86_400_000, 60_000)

      yield* delivery.deliverDue()
      const delivered = deliveredFor(receiver, connectionId)
      assert.strictEqual(delivered.length, 1)
      assert.isTrue(verified(delivered[0] as Received))
      assert.strictEqual(
        JSON.parse((delivered[0] as Received).body).data.credentialExpiresAt,
        events[0]?.payload.credentialExpiresAt
      )

      // Checked again with nothing changed: no new event.
      yield* monitor.check(due)
      assert.strictEqual((yield* healthEvents(connectionId)).length, 1)
    })
  )

  it.effect("the code exchange, health checks (one a 5xx) and a refresh are in the call ledger and the metrics", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const monitor = yield* HealthMonitor
      const ledger = yield* CallLedger
      const venueId = crypto.randomUUID()
      const started = yield* call("POST", "/api/v1/integrations/connect/quickbooks", {
        caller: admin,
        body: { venueId }
      })
      const query = yield* Effect.promise(() => world.quickbooks.consent(started.body.authorizationUrl))
      const done = yield* call("GET", `/api/v1/integrations/oauth/callback/quickbooks?${new URLSearchParams(query)}`)
      assert.strictEqual(done.status, 200, done.text)
      const connectionId = done.body.connection.id as string
      const due = dueOf({ id: connectionId, venueId }, "quickbooks")

      assert.strictEqual(Option.getOrThrow(yield* monitor.check(due)).probe?.outcome, "ok")
      world.quickbooks.companyInfoOutage(100)
      assert.strictEqual(Option.getOrThrow(yield* monitor.check(due)).probe?.outcome, "server_error")
      world.quickbooks.companyInfoOutage(0)
      const refreshed = yield* call("POST", "/api/v1/integrations/oauth/refresh/quickbooks", {
        caller: admin,
        body: { venueId }
      })
      assert.strictEqual(refreshed.status, 200, refreshed.text)
      yield* ledger.flush

      const rows = yield* asTenant(
        tenant,
        (sql) => sql<{ operation: string; outcome: string; calls: number }>`
          SELECT operation, outcome, sum(calls)::int AS calls FROM provider_call_minutes
          WHERE connection_id = ${connectionId} GROUP BY 1, 2 ORDER BY 1, 2`
      )
      assert.deepStrictEqual(
        rows.map((r) => [r.operation, r.outcome, r.calls]),
        [
          ["health_check", "5xx", 1],
          ["health_check", "ok", 1],
          ["oauth_exchange", "ok", 1],
          ["oauth_refresh", "ok", 1]
        ]
      )
      const metrics = yield* call(
        "GET",
        `/api/v1/integrations/health/quickbooks/metrics?venueId=${venueId}&period=24h`,
        { caller: admin }
      )
      assert.strictEqual(metrics.status, 200, metrics.text)
      const calls = metrics.body.totals.calls
      assert.deepStrictEqual([calls.total, calls.ok, calls.errors["5xx"]], [4, 3, 1])
      // Costs: every call counted; CompanyInfo is a metered CorePlus read, the answered health check only; token
      // endpoint calls are not API calls.
      const [cost] = yield* asTenant(
        tenant,
        (sql) => sql<{ apiCalls: number; quotaCalls: number }>`SELECT api_calls, quota_calls FROM integration_costs
          WHERE connection_id = ${connectionId}`
      )
      assert.deepStrictEqual(cost, { apiCalls: 4, quotaCalls: 1 })
    })
  )

  it.effect("a receiver that keeps failing gets retries, then the notification is dead-lettered", () =>
    Effect.gen(function* () {
      const receiver = yield* Receiver
      const delivery = yield* NotificationDelivery
      const events = yield* EventPublisher
      const venueId = crypto.randomUUID()
      const { stripe } = yield* TestWorld
      const apiKey = "sk_test_deadletter0123456789abc"
      stripe.addKey(apiKey)
      const created = yield* call("POST", "/api/v1/integrations/connect/stripe", {
        caller: admin,
        body: { venueId, apiKey }
      })
      assert.strictEqual(created.status, 201, created.text)
      const id = crypto.randomUUID()
      yield* events
        .publish({
          id,
          tenantId: tenant,
          type: "connection.needs_reauth",
          connectionId: ConnectionId.make(created.body.id),
          payload: { provider: "stripe", venueId, reason: "test", source: "reconnect" },
          occurredAt: new Date()
        })
        .pipe(Effect.orDie)
      receiver.status = 503
      const results: Array<string> = []
      for (let i = 0; i < 50 && results.at(-1) !== "Dead"; i++) {
        for (const r of yield* delivery.deliverDue()) if (r.id === id) results.push(r.result._tag)
        yield* Effect.sleep("20 millis")
      }
      receiver.status = 200
      assert.deepStrictEqual(results, ["Retry", "Retry", "Dead"])
      assert.strictEqual(receiver.received.filter((r) => r.headers["webhook-id"] === id).length, 3)
    })
  )
})
