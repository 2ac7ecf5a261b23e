import { createHmac } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Metric, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { webhookWorkerFailures } from "../../application/ProcessWebhookEvent.ts"
import { WebhookHandlerFailed } from "../../application/WebhookHandlers.ts"
import { OwnerSql } from "../support/TestDatabase.ts"
import { makeWebhookTestApp, webhookSecrets } from "../support/WebhookTestApp.ts"

const tenant = "dddddddd-0000-4000-8000-00000000000d"
const account = "acct_worker_failures"

/** Every log line of the service, structured; the worker's lines included. */
const logs: Array<{ message: unknown; level: string; cause?: string; annotations: Record<string, unknown> }> = []
const captured = Logger.layer([Logger.map(Logger.formatStructured, (entry) => logs.push(entry as any))])

const App = OwnerSql.layer.pipe(
  Layer.provideMerge(
    makeWebhookTestApp({
      extra: {
        "stripe:test.refused": () => Effect.fail(new WebhookHandlerFailed({ message: "the downstream refused it" })),
        "stripe:test.crash": () => Effect.die(new RangeError("handler bug"))
      }
    })
  ),
  Layer.provide(captured)
)

const deliver = (id: string, type: string) =>
  Effect.gen(function* () {
    const raw = JSON.stringify({ id, object: "event", type, created: 1_790_000_000, account, data: { object: {} } })
    const t = Math.floor(Date.now() / 1000)
    const mac = createHmac("sha256", webhookSecrets.stripe).update(`${t}.${raw}`).digest("hex")
    const response = yield* (yield* HttpClient.HttpClient).execute(
      HttpClientRequest.post(`${webhookPath}/stripe`).pipe(
        HttpClientRequest.setHeaders({ "stripe-signature": `t=${t},v1=${mac}` }),
        HttpClientRequest.bodyText(raw, "application/json")
      )
    )
    assert.strictEqual(response.status, 200, yield* response.text)
  }).pipe(Effect.orDie)

const deadRow = (eventId: string) =>
  Effect.gen(function* () {
    const sql = yield* OwnerSql
    const rows = yield* sql<{ id: string; status: string; attempts: number; lastError: string | null }>`
      SELECT id, status, attempts, last_error FROM webhook_events WHERE event_id = ${eventId}`
    return rows[0]?.status === "dead" ? rows[0] : yield* Effect.fail("not dead yet")
  }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))), Effect.orDie)

const failuresCounted = (outcome: string) =>
  Effect.map(Metric.value(Metric.withAttributes(webhookWorkerFailures, { outcome })), (state) => state.count)

describe("webhook worker failures", () => {
  layer(App, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("a failing or crashing handler is logged at error with its cause and counted, every attempt", () =>
      Effect.gen(function* () {
        const sql = yield* OwnerSql
        yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
          VALUES (${crypto.randomUUID()}, ${tenant}, ${crypto.randomUUID()}, 'stripe', 'api_key', 'connected',
            ${account})`.pipe(Effect.orDie)
        const retriesBefore = yield* failuresCounted("retry")
        const deadBefore = yield* failuresCounted("dead")

        yield* deliver("evt_worker_refused", "test.refused")
        yield* deliver("evt_worker_crash", "test.crash")
        const refused = yield* deadRow("evt_worker_refused")
        const crashed = yield* deadRow("evt_worker_crash")
        // WEBHOOK_RETRY_MAX_ATTEMPTS is 3 in the test app: two retries and a dead letter per event.
        assert.strictEqual(refused.attempts, 3)
        assert.include(refused.lastError ?? "", "the downstream refused it")
        assert.strictEqual(crashed.attempts, 3)
        assert.include(crashed.lastError ?? "", "handler bug")
        assert.strictEqual((yield* failuresCounted("retry")) - retriesBefore, 4)
        assert.strictEqual((yield* failuresCounted("dead")) - deadBefore, 2)

        const linesOf = (id: string) =>
          logs.filter((l) => l.level === "ERROR" && l.annotations["webhook.inbox_id"] === id)
        const refusedLines = linesOf(refused.id)
        assert.deepStrictEqual(
          refusedLines.map((l) => l.message),
          [
            "webhook event failed; the queue retries it",
            "webhook event failed; the queue retries it",
            "webhook event dead-lettered"
          ]
        )
        assert.isTrue(refusedLines.every((l) => (l.cause ?? "").includes("the downstream refused it")))
        const crashLines = linesOf(crashed.id)
        assert.strictEqual(crashLines.length, 3)
        assert.isTrue(crashLines.every((l) => (l.cause ?? "").includes("RangeError: handler bug")))
      })
    )
  })
})
