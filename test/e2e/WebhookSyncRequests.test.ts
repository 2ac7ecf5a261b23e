import { createHmac } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { type Caller, call } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"
import { makeWebhookTestApp, WebhookWorld, webhookSecrets } from "../support/WebhookTestApp.ts"
import { fixtureBytes } from "../unit/webhook/webhookFixtures.ts"

const tenant = "cccccccc-0000-4000-8000-0000000000e5"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

const deliver = (provider: string, raw: Uint8Array, headers: Record<string, string>, query = "") =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/${provider}${query}`).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyUint8Array(raw, "application/json")
      )
    )
    return { status: response.status, text: yield* response.text }
  }).pipe(Effect.orDie)

const stripeSigned = (raw: Uint8Array, secret: string, publicId: string) => {
  const t = Math.floor(Date.now() / 1000)
  const mac = createHmac("sha256", secret).update(`${t}.`).update(raw).digest("hex")
  return deliver("stripe", raw, { "stripe-signature": `t=${t},v1=${mac}` }, `?endpoint=${publicId}`)
}

const squareSigned = (raw: Uint8Array) =>
  deliver("square", raw, {
    "x-square-hmacsha256-signature": createHmac("sha256", webhookSecrets.squareKey)
      .update(webhookSecrets.squareUrl)
      .update(raw)
      .digest("base64")
  })

const owner = OwnerSql.useSync((sql) => sql)

const seedSquare = (merchantId: string) =>
  Effect.gen(function* () {
    const sql = yield* owner
    const id = crypto.randomUUID()
    yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
      VALUES (${id}, ${tenant}, ${crypto.randomUUID()}, 'square', 'oauth2', 'connected', ${merchantId})`
    return id
  }).pipe(Effect.orDie)

/** The connection's pending sync requests as `entity <- source`, once `count` of them are there. */
const syncRequests = (connectionId: string, count: number) =>
  Effect.gen(function* () {
    const sql = yield* owner
    const rows = yield* sql<{ entityType: string; source: string }>`SELECT entity_type, source FROM sync_requests
      WHERE connection_id = ${connectionId} AND status = 'pending' ORDER BY entity_type`
    if (rows.length < count) return yield* Effect.fail("not yet")
    return rows.map((r) => `${r.entityType} <- ${r.source}`)
  }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))), Effect.orDie)

const App = OwnerSql.layer.pipe(Layer.provideMerge(makeWebhookTestApp()))

describe("provider entity events become incremental-sync requests", () => {
  layer(App, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("Stripe: the fixtures' customer, product and charge events on a connected venue's own endpoint", () =>
      Effect.gen(function* () {
        const { stripe } = yield* WebhookWorld
        const key = "sk_test_syncrequests0123456789ab"
        const { accountId } = stripe.addKey(key)
        const connected = yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId: crypto.randomUUID(), apiKey: key }
        })
        assert.strictEqual(connected.status, 201, connected.text)
        const [endpoint] = stripe.webhookEndpoints(accountId)
        assert.isDefined(endpoint)
        // The endpoint subscribes to what the handlers apply, prices and invoices included.
        assert.includeMembers(
          [...endpoint!.enabledEvents],
          ["customer.created", "product.updated", "price.updated", "charge.refunded", "invoice.paid"]
        )
        const publicId = new URL(endpoint!.url).searchParams.get("endpoint")!
        for (const name of ["customer.created", "product.created", "charge.succeeded"]) {
          const reply = yield* stripeSigned(fixtureBytes(`stripe/${name}.json`), endpoint!.secret, publicId)
          assert.strictEqual(reply.status, 200, `${name}: ${reply.text}`)
          assert.strictEqual(JSON.parse(reply.text).stored, 1, name)
        }
        assert.deepStrictEqual(yield* syncRequests(connected.body.id, 3), [
          "customer <- webhook:stripe:customer.created",
          "payment <- webhook:stripe:charge.succeeded",
          "product <- webhook:stripe:product.created"
        ])
      })
    )

    it.effect("Square: the customer and payment fixtures, each for its merchant's connection", () =>
      Effect.gen(function* () {
        const customers = yield* seedSquare("G7MMEBVW021Q4")
        const payments = yield* seedSquare("6SSW7HV8K2ST5")
        for (const name of ["customer.created", "payment.created"]) {
          const reply = yield* squareSigned(fixtureBytes(`square/${name}.json`))
          assert.strictEqual(reply.status, 200, `${name}: ${reply.text}`)
          assert.strictEqual(JSON.parse(reply.text).stored, 1, name)
        }
        assert.deepStrictEqual(yield* syncRequests(customers, 1), ["customer <- webhook:square:customer.created"])
        assert.deepStrictEqual(yield* syncRequests(payments, 1), ["payment <- webhook:square:payment.created"])
      })
    )

    it.effect("Square's revocation: needs_reauth and one connection.needs_reauth event, however often it comes", () =>
      Effect.gen(function* () {
        const connection = yield* seedSquare("MREVOKED0000001")
        const revoked = (eventId: string) =>
          new TextEncoder().encode(
            JSON.stringify({
              merchant_id: "MREVOKED0000001",
              type: "oauth.authorization.revoked",
              event_id: eventId,
              created_at: "2026-11-01T10:00:00Z",
              data: { type: "revocation", id: eventId, object: { revocation: { revoker_type: "MERCHANT" } } }
            })
          )
        const sql = yield* owner
        const events = () =>
          sql<{ type: string; payload: Record<string, string> }>`SELECT type, payload FROM integration_events
            WHERE connection_id = ${connection}`.pipe(Effect.orDie)
        assert.strictEqual((yield* squareSigned(revoked("sq-revoke-1"))).status, 200)
        const first = yield* events().pipe(
          Effect.flatMap((rows) => (rows.length === 0 ? Effect.fail("not yet") : Effect.succeed(rows))),
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))),
          Effect.orDie
        )
        assert.deepStrictEqual(
          first.map((e) => [e.type, e.payload.provider, e.payload.reason, e.payload.source]),
          [["connection.needs_reauth", "square", "authorization_revoked", "webhook"]]
        )
        const [row] = yield* sql<{ status: string }>`SELECT status FROM connections WHERE id = ${connection}`.pipe(
          Effect.orDie
        )
        assert.strictEqual(row?.status, "needs_reauth")

        // A second revocation event (another id) is applied too, and changes nothing more.
        assert.strictEqual((yield* squareSigned(revoked("sq-revoke-2"))).status, 200)
        yield* sql<{ status: string }>`SELECT status FROM webhook_events WHERE event_id = 'sq-revoke-2'`.pipe(
          Effect.flatMap((rows) => (rows[0]?.status === "processed" ? Effect.void : Effect.fail("not yet"))),
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))),
          Effect.orDie
        )
        assert.strictEqual((yield* events()).length, 1)
      })
    )
  })
})
