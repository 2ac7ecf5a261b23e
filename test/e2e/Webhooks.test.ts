import { createHmac } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Ref, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { mailchimpWebhookEvents, WebhookHandlerFailed } from "../../application/WebhookHandlers.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { ConnectionId, newEndpointPublicId, TenantId, VenueId } from "../../domain/Ids.ts"
import { ConnectionSettingsStore } from "../../ports/ConnectionSettingsStore.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import { type Caller, call } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"
import { makeWebhookTestApp, webhookSecrets as s, WebhookWorld } from "../support/WebhookTestApp.ts"
import { fixtureBytes, fixtureNames, tampered } from "../unit/webhook/webhookFixtures.ts"

const tenant = "cccccccc-0000-4000-8000-00000000000c"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const utf8 = new TextEncoder()

const stripeHeader = (raw: Uint8Array, secret: string = s.stripe) => {
  const t = Math.floor(Date.now() / 1000)
  const mac = createHmac("sha256", secret).update(`${t}.`).update(raw).digest("hex")
  return { "stripe-signature": `t=${t},v1=${mac}`, "content-type": "application/json" }
}
const squareHeader = (raw: Uint8Array) => ({
  "x-square-hmacsha256-signature": createHmac("sha256", s.squareKey).update(s.squareUrl).update(raw).digest("base64"),
  "content-type": "application/json"
})
const quickbooksHeader = (raw: Uint8Array) => ({
  "intuit-signature": createHmac("sha256", s.quickbooks).update(raw).digest("base64"),
  "content-type": "application/json"
})

/** One delivery: the body's exact bytes, with headers and query as the provider sends them. */
const deliver = (provider: string, raw: Uint8Array, headers: Record<string, string>, query = "") =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/${provider}${query}`).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyUint8Array(raw, headers["content-type"] ?? "application/octet-stream")
      )
    )
    return { status: response.status, text: yield* response.text }
  }).pipe(Effect.orDie)

/** Mailchimp signs nothing: `mailchimpQuery` is its audience webhook's `?endpoint=…&secret=…` (see seedMailchimp). */
const signed = (provider: string, raw: Uint8Array, mailchimpQuery = "") => {
  switch (provider) {
    case "stripe":
      return deliver(provider, raw, stripeHeader(raw))
    case "square":
      return deliver(provider, raw, squareHeader(raw))
    case "quickbooks":
      return deliver(provider, raw, quickbooksHeader(raw))
    default:
      return deliver(provider, raw, { "content-type": "application/x-www-form-urlencoded" }, mailchimpQuery)
  }
}

const stripeEvent = (id: string, type: string, account: string | null, extra: object = {}) =>
  utf8.encode(JSON.stringify({ id, object: "event", type, created: 1_790_000_000, account, data: { object: extra } }))

const owner = OwnerSql.useSync((sql) => sql)

const seedConnection = (provider: string, accountId: string) =>
  Effect.gen(function* () {
    const sql = yield* owner
    const id = crypto.randomUUID()
    yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
      VALUES (${id}, ${tenant}, ${crypto.randomUUID()}, ${provider},
        ${provider === "stripe" ? "api_key" : "oauth2"}, 'connected', ${accountId})`
    return id
  }).pipe(Effect.orDie)

/**
 * A Mailchimp connection as PUT /mailchimp/settings leaves it (test/e2e/MailchimpAudience.test.ts goes through it):
 * its audience, its endpoint and its sealed URL secret; its events are routed by the endpoint.
 */
const seedMailchimp = (listId: string) =>
  Effect.gen(function* () {
    const sql = yield* owner
    const target = {
      tenantId: TenantId.make(tenant),
      id: ConnectionId.make(crypto.randomUUID()),
      venueId: VenueId.make(crypto.randomUUID()),
      provider: "mailchimp" as const
    }
    yield* sql`INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
      VALUES (${target.id}, ${tenant}, ${target.venueId}, 'mailchimp', 'oauth2', 'connected', 'us19:4242')`
    const secret = crypto.randomUUID()
    const sealed = yield* (yield* CredentialVault).seal(
      new SecretPlace({ ...target, field: "webhook_secret" }),
      Redacted.make(secret)
    )
    yield* (yield* ConnectionSettingsStore).update(target, { listId }, [{ field: "webhook_secret", sealed }])
    const publicId = newEndpointPublicId()
    yield* (yield* WebhookEndpoints).save({
      tenantId: target.tenantId,
      connectionId: target.id,
      provider: "mailchimp",
      publicId,
      url: `https://integrations.example.test${webhookPath}/mailchimp?endpoint=${publicId}`,
      providerEndpointId: "0a1b2c3d4e",
      events: mailchimpWebhookEvents
    })
    return { id: target.id, query: `?endpoint=${publicId}&secret=${secret}` }
  }).pipe(Effect.orDie)

const inboxRow = (provider: string, eventId: string) =>
  Effect.gen(function* () {
    const sql = yield* owner
    const rows = yield* sql<{ id: string; status: string; attempts: number; lastError: string | null }>`
      SELECT id, status, attempts, last_error FROM webhook_events WHERE provider = ${provider} AND event_id = ${eventId}`
    return rows
  }).pipe(Effect.orDie)

/** Polls until the event reaches the status (the worker runs in the background). */
const eventually = <A, R>(check: Effect.Effect<A | undefined, never, R>, what: string) =>
  check.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail(what) : Effect.succeed(a))),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))),
    Effect.mapError(() => new Error(`timed out: ${what}`)),
    Effect.orDie
  )

const statusIs = (provider: string, eventId: string, status: string) =>
  eventually(
    Effect.map(inboxRow(provider, eventId), (rows) => (rows[0]?.status === status ? rows[0] : undefined)),
    `${provider} ${eventId} ${status}`
  )

const flaky = Effect.runSync(Ref.make(true))

const App = OwnerSql.layer.pipe(
  Layer.provideMerge(
    makeWebhookTestApp({
      extra: {
        "stripe:test.flaky": () =>
          Effect.flatMap(Ref.get(flaky), (failing) =>
            failing
              ? Effect.fail(new WebhookHandlerFailed({ message: "downstream refused" }))
              : Effect.succeed("processed")
          )
      }
    })
  )
)

describe("webhooks end to end", () => {
  layer(App, { timeout: 60_000, excludeTestServices: true })((it) => {
    const fixtures = [
      ...fixtureNames("stripe"),
      ...fixtureNames("square"),
      ...fixtureNames("quickbooks"),
      ...fixtureNames("mailchimp/raw", ".form")
    ]

    it.effect("every fixture is accepted with a correct signature and refused when tampered", () =>
      Effect.gen(function* () {
        assert.isAtLeast(fixtures.length, 11)
        const audience = yield* seedMailchimp("a6b5da1054")
        for (const path of fixtures) {
          const provider = path.split("/")[0]!
          const raw = fixtureBytes(path)
          const ok = yield* signed(provider, raw, audience.query)
          assert.strictEqual(ok.status, 200, `${path}: ${ok.text}`)
          if (provider === "mailchimp") {
            const form = { "content-type": "application/x-www-form-urlencoded" }
            const wrong = yield* deliver(provider, raw, form, audience.query.replace(/secret=.*/, "secret=nope"))
            assert.strictEqual(wrong.status, 401, path)
            const noEndpoint = yield* deliver(provider, raw, form, audience.query.replace(/endpoint=[^&]*&/, ""))
            assert.strictEqual(noEndpoint.status, 401, `${path}: without ?endpoint= there is no secret to try`)
            continue
          }
          const headers =
            provider === "stripe"
              ? stripeHeader(raw)
              : provider === "square"
                ? squareHeader(raw)
                : quickbooksHeader(raw)
          const bad = yield* deliver(provider, tampered(raw), headers)
          assert.strictEqual(bad.status, 401, path)
          assert.strictEqual(bad.text, "", "a refusal says nothing about why")
        }
        // The official vectors as published.
        const square = fixtureBytes("square/webhooks.test_notification.json")
        const vector = yield* deliver("square", square, {
          "x-square-hmacsha256-signature": "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
          "content-type": "application/json"
        })
        assert.strictEqual(vector.status, 200)
        const qbo = yield* deliver("quickbooks", fixtureBytes("quickbooks/legacy.customer.create.json"), {
          "intuit-signature": "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=",
          "content-type": "application/json"
        })
        assert.strictEqual(qbo.status, 200)
        // No secret for the delivery → refused, never accepted; Mailchimp's validation GET answers 200.
        const previous = yield* deliver(
          "stripe",
          stripeEvent("evt_old", "x", null),
          stripeHeader(stripeEvent("evt_old", "x", null), s.stripeOld)
        )
        assert.strictEqual(previous.status, 200, "a rolled secret still verifies")
        const client = yield* HttpClient.HttpClient
        assert.strictEqual((yield* client.get(`${webhookPath}/mailchimp`).pipe(Effect.orDie)).status, 200)
        const unknownEndpoint = stripeEvent("evt_endpoint", "x", null)
        const refused = yield* deliver("stripe", unknownEndpoint, stripeHeader(unknownEndpoint), "?endpoint=we_unknown")
        assert.strictEqual(refused.status, 401, "an endpoint id with no connection has no secret to try")
      })
    )

    it.effect("a verified event is stored once, acknowledged, and applied by the worker in the webhook's trace", () =>
      Effect.gen(function* () {
        const connection = yield* seedConnection("stripe", "acct_deauth")
        const raw = stripeEvent("evt_deauth_1", "account.application.deauthorized", "acct_deauth")
        const first = yield* signed("stripe", raw)
        assert.deepStrictEqual(JSON.parse(first.text), { received: true, stored: 1, duplicates: 0, unroutable: 0 })
        const again = yield* signed("stripe", raw)
        assert.deepStrictEqual(JSON.parse(again.text), { received: true, stored: 0, duplicates: 1, unroutable: 0 })
        const row = yield* statusIs("stripe", "evt_deauth_1", "processed")
        assert.strictEqual(row.attempts, 1)
        const sql = yield* owner
        const [c] = yield* sql<{ status: string }>`SELECT status FROM connections WHERE id = ${connection}`.pipe(
          Effect.orDie
        )
        assert.strictEqual(c?.status, "disconnected")

        const { spans } = yield* WebhookWorld
        const finished = spans.getFinishedSpans()
        const worker = finished.find(
          (span) => span.name === "ProcessWebhookEvent.process" && span.attributes["webhook.inbox_id"] === row.id
        )
        assert.isDefined(worker)
        const traceId = worker!.spanContext().traceId
        assert.isTrue(
          finished.some((span) => span.name === "IngestWebhook.accept" && span.spanContext().traceId === traceId),
          "the worker's span joins the trace of the request that stored the event"
        )

        const listed = yield* call("GET", `/api/v1/integrations/webhooks/stripe/events?status=processed`, {
          caller: admin
        })
        assert.strictEqual(listed.status, 200)
        assert.include(
          listed.body.events.map((e: { eventId: string }) => e.eventId),
          "evt_deauth_1"
        )
      })
    )

    it.effect("handlers: Square revocation, QuickBooks and catalog changes, Mailchimp consent and email", () =>
      Effect.gen(function* () {
        const square = yield* seedConnection("square", "MERCHANT_E2E")
        const qbo = yield* seedConnection("quickbooks", "REALM_E2E")
        const mailchimp = yield* seedMailchimp("LIST_E2E")
        const json = (body: object) => utf8.encode(JSON.stringify(body))
        yield* signed(
          "square",
          json({ merchant_id: "MERCHANT_E2E", type: "catalog.version.updated", event_id: "sq-cat-1", data: {} })
        )
        yield* signed(
          "square",
          json({ merchant_id: "MERCHANT_E2E", type: "oauth.authorization.revoked", event_id: "sq-rev-1", data: {} })
        )
        yield* signed(
          "quickbooks",
          json([
            {
              specversion: "1.0",
              id: "qbo-1",
              type: "qbo.customer.updated.v1",
              intuitaccountid: "REALM_E2E",
              time: "2026-11-01T10:00:00Z",
              data: {}
            }
          ])
        )
        const form = (fields: Record<string, string>) => utf8.encode(new URLSearchParams(fields).toString())
        yield* signed(
          "mailchimp",
          form({
            type: "unsubscribe",
            fired_at: "2026-11-01 10:00:00",
            "data[list_id]": "LIST_E2E",
            "data[email]": "Fan@Example.com",
            "data[reason]": "manual",
            "data[id]": "m1"
          }),
          mailchimp.query
        )
        yield* eventually(
          Effect.map(
            (yield* owner)`SELECT 1 FROM synced_records WHERE connection_id = ${mailchimp.id}`.pipe(Effect.orDie),
            (rows) => (rows.length === 1 ? true : undefined)
          ),
          "consent withdrawn"
        )
        yield* signed(
          "mailchimp",
          form({
            type: "upemail",
            fired_at: "2026-11-01 10:01:00",
            "data[list_id]": "LIST_E2E",
            "data[old_email]": "fan@example.com",
            "data[new_email]": "new@example.com",
            "data[new_id]": "m2"
          }),
          mailchimp.query
        )
        yield* signed("stripe", stripeEvent("evt_unknown_type", "balance.available", "acct_nobody_type"))
        yield* statusIs("square", "sq-cat-1", "processed")
        yield* statusIs("square", "sq-rev-1", "processed")
        yield* statusIs("quickbooks", "qbo-1", "processed")
        const sql = yield* owner
        const status = yield* sql<{ status: string }>`SELECT status FROM connections WHERE id = ${square}`.pipe(
          Effect.orDie
        )
        assert.strictEqual(status[0]?.status, "needs_reauth")
        const requests = yield* sql<{ connectionId: string; entityType: string }>`
          SELECT connection_id, entity_type FROM sync_requests ORDER BY entity_type`.pipe(Effect.orDie)
        assert.deepStrictEqual(
          requests.map((r) => [r.connectionId, r.entityType]),
          [
            [qbo, "customer"],
            [square, "product"]
          ]
        )
        const contact = yield* eventually(
          Effect.map(
            sql<{ externalId: string; data: { marketingConsent?: boolean; email?: string } }>`
              SELECT external_id, data FROM synced_records WHERE connection_id = ${mailchimp.id}`.pipe(Effect.orDie),
            (rows) => (rows.length === 1 && rows[0]!.externalId === "new@example.com" ? rows[0] : undefined)
          ),
          "contact re-keyed"
        )
        assert.strictEqual(contact.data.marketingConsent, false)
        assert.strictEqual(contact.data.email, "new@example.com")
      })
    )

    it.effect(
      "malformed with a good signature is 400 and kept as rejected; an unknown account is kept as unroutable",
      () =>
        Effect.gen(function* () {
          const malformed = yield* signed("stripe", utf8.encode(JSON.stringify({ type: "no.id" })))
          assert.strictEqual(malformed.status, 400)
          assert.include(malformed.text, "body.id")
          const unroutable = yield* signed("stripe", stripeEvent("evt_nobody", "customer.created", "acct_nobody"))
          assert.strictEqual(unroutable.status, 200)
          assert.strictEqual(JSON.parse(unroutable.text).unroutable, 1)
          const sql = yield* owner
          const rows = yield* sql<{ reason: string; eventId: string | null }>`
          SELECT reason, event_id FROM webhook_quarantine WHERE provider = 'stripe' ORDER BY reason`.pipe(Effect.orDie)
          assert.isTrue(rows.some((r) => r.reason === "rejected" && r.eventId === null))
          assert.isTrue(rows.some((r) => r.reason === "unroutable" && r.eventId === "evt_nobody"))
        })
    )

    it.effect("failures retry, then dead-letter with the reason; manual retry over HTTP applies them", () =>
      Effect.gen(function* () {
        yield* seedConnection("stripe", "acct_flaky")
        yield* Ref.set(flaky, true)
        yield* signed("stripe", stripeEvent("evt_flaky_1", "test.flaky", "acct_flaky"))
        yield* signed("stripe", stripeEvent("evt_flaky_2", "test.flaky", "acct_flaky"))
        const dead = yield* statusIs("stripe", "evt_flaky_1", "dead")
        yield* statusIs("stripe", "evt_flaky_2", "dead")
        assert.strictEqual(dead.attempts, 3)
        assert.include(dead.lastError ?? "", "downstream refused")

        const listed = yield* call(
          "GET",
          "/api/v1/integrations/webhooks/stripe/events?status=dead&type=test.flaky&limit=1",
          {
            caller: admin
          }
        )
        assert.strictEqual(listed.status, 200)
        assert.strictEqual(listed.body.events.length, 1)
        assert.isString(listed.body.next)
        const page2 = yield* call(
          "GET",
          `/api/v1/integrations/webhooks/stripe/events?status=dead&type=test.flaky&limit=1&cursor=${listed.body.next}`,
          { caller: admin }
        )
        assert.strictEqual(page2.body.events.length, 1)
        assert.notStrictEqual(page2.body.events[0].id, listed.body.events[0].id)

        const viewer = yield* call("POST", "/api/v1/integrations/webhooks/retry", {
          caller: { ...admin, role: "viewer" },
          body: { provider: "stripe" }
        })
        assert.strictEqual(viewer.status, 403)
        const unauthenticated = yield* call("GET", "/api/v1/integrations/webhooks/stripe/events")
        assert.strictEqual(unauthenticated.status, 401)

        yield* Ref.set(flaky, false)
        const one = yield* call("POST", "/api/v1/integrations/webhooks/retry", {
          caller: admin,
          body: { provider: "stripe", eventId: dead.id }
        })
        assert.strictEqual(one.status, 200)
        assert.deepStrictEqual(one.body.requeued, [dead.id])
        yield* statusIs("stripe", "evt_flaky_1", "processed")
        assert.strictEqual((yield* inboxRow("stripe", "evt_flaky_2"))[0]?.status, "dead")
        const all = yield* call("POST", "/api/v1/integrations/webhooks/retry", {
          caller: admin,
          body: { provider: "stripe" }
        })
        assert.strictEqual(all.body.requeued.length, 1)
        yield* statusIs("stripe", "evt_flaky_2", "processed")
      })
    )

    it.effect(
      "connecting Stripe registers an endpoint whose own secret alone verifies its events; disconnect deletes it",
      () =>
        Effect.gen(function* () {
          const { stripe } = yield* WebhookWorld
          const venue = crypto.randomUUID()
          const { accountId } = stripe.addKey("sk_test_endpointe2e0123456789abc")
          const connected = yield* call("POST", "/api/v1/integrations/connect/stripe", {
            caller: admin,
            body: { venueId: venue, apiKey: "sk_test_endpointe2e0123456789abc" }
          })
          assert.strictEqual(connected.status, 201, connected.text)
          const [endpoint] = stripe.webhookEndpoints(accountId)
          assert.isDefined(endpoint)
          const publicId = new URL(endpoint!.url).searchParams.get("endpoint")!
          assert.match(
            endpoint!.url,
            /^https:\/\/integrations\.example\.test\/api\/v1\/integrations\/webhooks\/stripe\?endpoint=we_/
          )

          // The venue's own account names no `account`: routed by the endpoint id, verified by its secret only.
          const raw = stripeEvent("evt_own_account_1", "customer.created", null)
          const own = yield* deliver("stripe", raw, stripeHeader(raw, endpoint!.secret), `?endpoint=${publicId}`)
          assert.strictEqual(own.status, 200, own.text)
          assert.strictEqual(JSON.parse(own.text).stored, 1)
          const platform = yield* deliver("stripe", raw, stripeHeader(raw, s.stripe), `?endpoint=${publicId}`)
          assert.strictEqual(platform.status, 401, "the service-wide secret is not tried for an endpoint")
          yield* statusIs("stripe", "evt_own_account_1", "processed")

          const gone = yield* call("POST", "/api/v1/integrations/stripe/disconnect", {
            caller: admin,
            body: { venueId: venue }
          })
          assert.strictEqual(gone.status, 200, gone.text)
          assert.deepStrictEqual(stripe.webhookEndpoints(accountId), [])
          const after = yield* deliver("stripe", raw, stripeHeader(raw, endpoint!.secret), `?endpoint=${publicId}`)
          assert.strictEqual(after.status, 401)
        })
    )

    it.effect("another tenant sees none of these events", () =>
      Effect.gen(function* () {
        const other = yield* call("GET", "/api/v1/integrations/webhooks/stripe/events", {
          caller: { tenantId: "dddddddd-0000-4000-8000-00000000000d", venueIds: [], role: "admin" }
        })
        assert.strictEqual(other.status, 200)
        assert.deepStrictEqual(other.body.events, [])
      })
    )
  })
})
