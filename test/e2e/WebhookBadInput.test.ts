import { createHmac } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { type Caller, call } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"
import { makeWebhookTestApp, webhookSecrets as s } from "../support/WebhookTestApp.ts"

// Bad input from an authentic sender must be kept and answered for good (200 or 400), never a 503 that a provider
// retries for days.
const tenant = "dddddddd-0000-4000-8000-00000000000d"
const account = "acct_bad_input"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const utf8 = new TextEncoder()

const deliverStripe = (raw: Uint8Array) =>
  Effect.gen(function* () {
    const t = Math.floor(Date.now() / 1000)
    const mac = createHmac("sha256", s.stripe).update(`${t}.`).update(raw).digest("hex")
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/stripe`).pipe(
        HttpClientRequest.setHeaders({ "stripe-signature": `t=${t},v1=${mac}` }),
        HttpClientRequest.bodyUint8Array(raw, "application/json")
      )
    )
    return { status: response.status, body: JSON.parse((yield* response.text) || "null") }
  }).pipe(Effect.orDie)

const owner = OwnerSql.useSync((sql) => sql)

const rejected = (detail: string) =>
  Effect.gen(function* () {
    const sql = yield* owner
    return yield* sql<{ body: Uint8Array }>`SELECT body FROM webhook_quarantine
      WHERE provider = 'stripe' AND reason = 'rejected' AND detail LIKE ${`%${detail}%`}`
  }).pipe(Effect.orDie)

const App = OwnerSql.layer.pipe(Layer.provideMerge(makeWebhookTestApp()))

layer(App, { timeout: "60 seconds", excludeTestServices: true })("webhook bad input", (it) => {
  it.effect("a signed Stripe event with \\u0000 in its strings is stored from its exact bytes, not refused", () =>
    Effect.gen(function* () {
      const sql = yield* owner
      yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
        VALUES (${crypto.randomUUID()}, ${tenant}, ${crypto.randomUUID()}, 'stripe', 'api_key', 'connected', ${account})`
      const raw = utf8.encode(
        `{"id":"evt_nul_1","object":"event","type":"customer.updated","created":1790000000,"account":"${account}",` +
          `"data":{"object":{"id":"cus_1","name":"A\\u0000B","note":"\\ud800"}}}`
      )
      const reply = yield* deliverStripe(raw)
      assert.strictEqual(reply.status, 200, JSON.stringify(reply.body))
      assert.strictEqual(reply.body.stored, 1)
      const [row] = yield* sql<{ body: Uint8Array }>`SELECT body FROM webhook_events WHERE event_id = 'evt_nul_1'`
      assert.deepStrictEqual(new Uint8Array(row!.body), raw, "the signed bytes as received")
      const listed = yield* call("GET", "/api/v1/integrations/webhooks/stripe/events", { caller: admin })
      assert.strictEqual(listed.body.events[0].payload.data.object.name, "A\u0000B", "read back from the bytes")
      const again = yield* deliverStripe(raw)
      assert.strictEqual(again.body.duplicates, 1)
    }).pipe(Effect.orDie)
  )

  it.effect("a 1 MB event id and 100,000 levels of nesting are 400 and kept as rejected", () =>
    Effect.gen(function* () {
      const longId = utf8.encode(
        `{"id":"evt_${"x".repeat(1_000_000)}","object":"event","type":"customer.updated","created":1790000000}`
      )
      const long = yield* deliverStripe(longId)
      assert.strictEqual(long.status, 400)
      assert.include(long.body.message, "eventId is longer than 255")
      assert.strictEqual((yield* rejected("eventId is longer than 255")).length, 1)

      const deep = utf8.encode(`{"id":"evt_deep","type":"x","data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`)
      const nested = yield* deliverStripe(deep)
      assert.strictEqual(nested.status, 400)
      assert.include(nested.body.message, "nests deeper than")
      const kept = yield* rejected("nests deeper than")
      assert.deepStrictEqual(new Uint8Array(kept[0]!.body), deep)

      const control = utf8.encode(`{"id":"evt_\\u0000","object":"event","type":"customer.updated"}`)
      const nul = yield* deliverStripe(control)
      assert.strictEqual(nul.status, 400)
      assert.include(nul.body.message, "eventId holds a control character")
    })
  )
})
