import { createHmac } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { asTenant, type Caller, call, TestWorld, testAppWith } from "../support/TestApp.ts"

// The edited-callback attack of issue 11: tenant B may edit every parameter of its own callback URL, but the
// account a connection stores is the one the provider proves with the new credential, and webhooks for an account
// reach every connection that proved it.
const tenantA = "aaaaaaaa-0000-4000-8000-0000000000a1"
const tenantB = "bbbbbbbb-0000-4000-8000-0000000000b2"
const venueA = "aaaaaaaa-1111-4000-8000-0000000000a1"
const venueB = "bbbbbbbb-1111-4000-8000-0000000000b1"
const adminA: Caller = { tenantId: tenantA, venueIds: [], role: "admin" }
const adminB: Caller = { tenantId: tenantB, venueIds: [], role: "admin" }

const secrets = {
  quickbooks: "qbo-verifier-token-proof",
  squareKey: "square-signature-key-proof",
  squareUrl: "https://integrations.example.test/api/v1/integrations/webhooks/square"
}

const App = testAppWith(
  Effect.succeed({
    QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN: secrets.quickbooks,
    SQUARE_WEBHOOK_SIGNATURE_KEY: secrets.squareKey,
    SQUARE_WEBHOOK_URL: secrets.squareUrl
  })
)

const utf8 = new TextEncoder()

/** Starts a connect for the caller and plays its user at the provider, approving for `account` when given. */
const authorize = (caller: Caller, venueId: string, provider: OAuthProviderName, account?: string) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* call("POST", `/api/v1/integrations/connect/${provider}`, { caller, body: { venueId } })
    assert.strictEqual(started.status, 200, started.text)
    return yield* Effect.promise(() =>
      world[provider].consent(started.body.authorizationUrl, account === undefined ? {} : { account })
    )
  })

const callback = (provider: OAuthProviderName, query: Record<string, string>) =>
  call("GET", `/api/v1/integrations/oauth/callback/${provider}?${new URLSearchParams(query)}`).pipe(
    Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
  )

const connectionOf = (caller: Caller, venueId: string, provider: OAuthProviderName) =>
  call("GET", `/api/v1/integrations/${provider}?venueId=${venueId}`, { caller })

const stored = (tenant: string) =>
  asTenant(
    tenant,
    (sql) =>
      sql<{ provider: string; n: number }>`SELECT provider, count(*)::int AS n FROM credentials GROUP BY provider`
  )

const deliver = (provider: "quickbooks" | "square", body: object) =>
  Effect.gen(function* () {
    const raw = utf8.encode(JSON.stringify(body))
    const signature =
      provider === "quickbooks"
        ? { "intuit-signature": createHmac("sha256", secrets.quickbooks).update(raw).digest("base64") }
        : {
            "x-square-hmacsha256-signature": createHmac("sha256", secrets.squareKey)
              .update(secrets.squareUrl)
              .update(raw)
              .digest("base64")
          }
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/${provider}`).pipe(
        HttpClientRequest.setHeaders(signature),
        HttpClientRequest.bodyUint8Array(raw, "application/json")
      )
    )
    assert.strictEqual(response.status, 200, yield* response.text)
    return JSON.parse(yield* response.text)
  }).pipe(Effect.orDie)

const quickbooksChange = (realmId: string, id: string) => ({
  eventNotifications: [
    {
      realmId,
      dataChangeEvent: {
        entities: [{ name: "Customer", id, operation: "Update", lastUpdated: "2026-11-30T10:00:00-0800" }]
      }
    }
  ]
})

const squareCustomer = (merchantId: string, eventId: string) => ({
  merchant_id: merchantId,
  type: "customer.updated",
  event_id: eventId,
  created_at: "2026-11-30T10:00:00Z",
  data: { type: "customer", id: "CUST1", object: { customer: { id: "CUST1" } } }
})

const eventIds = (caller: Caller, provider: string) =>
  call("GET", `/api/v1/integrations/webhooks/${provider}/events?limit=100`, { caller }).pipe(
    Effect.map((r) => {
      assert.strictEqual(r.status, 200, r.text)
      return (r.body.events as Array<{ eventId: string }>).map((e) => e.eventId)
    })
  )

layer(App, { timeout: "60 seconds", excludeTestServices: true })("provider accounts are proven, not claimed", (it) => {
  it.effect("QuickBooks: B edits realmId=R into its callback; refused, nothing stored, A keeps R's webhooks", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const realm = world.quickbooks.realmId
      const a = yield* callback("quickbooks", yield* authorize(adminA, venueA, "quickbooks"))
      assert.strictEqual(a.status, 200, a.text)
      assert.strictEqual(a.body.connection.accountId, realm)

      // B approves for its own company, then edits A's realm into the redirect.
      const revocations = world.quickbooks.stats().revocations
      const edited = { ...(yield* authorize(adminB, venueB, "quickbooks", "4620816365000000001")), realmId: realm }
      const refused = yield* callback("quickbooks", edited)
      assert.strictEqual(refused.status, 400, refused.text)
      assert.strictEqual(refused.body.field, "code")
      assert.include(refused.body.message, `did not confirm company ${realm}`)
      assert.strictEqual(world.quickbooks.stats().revocations, revocations + 1, "the unproven grant is revoked")
      assert.strictEqual((yield* connectionOf(adminB, venueB, "quickbooks")).status, 404, "B is not connected")
      assert.deepStrictEqual(yield* stored(tenantB), [])
      const replay = yield* callback("quickbooks", edited)
      assert.strictEqual(replay.body.code, "InvalidOAuthState", "the state is spent")

      const accepted = yield* deliver("quickbooks", quickbooksChange(realm, "qbo-proof-1"))
      assert.strictEqual(accepted.stored, 1)
      assert.strictEqual((yield* eventIds(adminA, "quickbooks")).length, 1, "A receives R's webhook")
      assert.deepStrictEqual(yield* eventIds(adminB, "quickbooks"), [])

      // B connecting its own company honestly works, and R's webhooks still go to A alone.
      const own = yield* callback("quickbooks", yield* authorize(adminB, venueB, "quickbooks", "4620816365000000001"))
      assert.strictEqual(own.status, 200, own.text)
      assert.strictEqual(own.body.connection.accountId, "4620816365000000001")
      yield* deliver("quickbooks", quickbooksChange(realm, "qbo-proof-2"))
      assert.strictEqual((yield* eventIds(adminA, "quickbooks")).length, 2)
      assert.deepStrictEqual(yield* eventIds(adminB, "quickbooks"), [])
    })
  )

  it.effect("QuickBooks: an unreachable provider fails the callback (retryable), never connects", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const closed = yield* authorize(adminB, "bbbbbbbb-1111-4000-8000-0000000000b9", "quickbooks")
      // The token exchange goes through, CompanyInfo answers 503: the proof did not.
      world.quickbooks.companyInfoOutage()
      const failed = yield* callback("quickbooks", closed)
      assert.isAtLeast(failed.status, 500, failed.text)
      assert.strictEqual(
        (yield* connectionOf(adminB, "bbbbbbbb-1111-4000-8000-0000000000b9", "quickbooks")).status,
        404
      )
    })
  )

  it.effect("Square and Mailchimp: edited callback parameters change nothing; the provider names the account", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const a = yield* callback("square", yield* authorize(adminA, venueA, "square", "MLMERCHANTOFA"))
      assert.strictEqual(a.body.connection.accountId, "MLMERCHANTOFA")
      const bQuery = yield* authorize(adminB, venueB, "square", "MLMERCHANTOFB")
      const b = yield* callback("square", { ...bQuery, merchant_id: "MLMERCHANTOFA", realmId: "MLMERCHANTOFA" })
      assert.strictEqual(b.status, 200, b.text)
      assert.strictEqual(b.body.connection.accountId, "MLMERCHANTOFB", "the token response names the merchant")
      yield* deliver("square", squareCustomer("MLMERCHANTOFA", "sq-proof-1"))
      assert.deepStrictEqual(yield* eventIds(adminA, "square"), ["sq-proof-1"])
      assert.deepStrictEqual(yield* eventIds(adminB, "square"), [])

      const mc = yield* callback("mailchimp", {
        ...(yield* authorize(adminB, venueB, "mailchimp")),
        dc: "us1",
        user_id: "1",
        accountId: "us1:1"
      })
      assert.strictEqual(mc.status, 200, mc.text)
      assert.strictEqual(mc.body.connection.accountId, `${world.mailchimp.dc}:${world.mailchimp.userId}`)
    })
  )

  it.effect("one account proven by two tenants: each gets its own copy of the account's events", () =>
    Effect.gen(function* () {
      const venueA2 = "aaaaaaaa-1111-4000-8000-0000000000a7"
      const venueB2 = "bbbbbbbb-1111-4000-8000-0000000000b7"
      for (const [caller, venue] of [
        [adminA, venueA2],
        [adminB, venueB2]
      ] as const) {
        const done = yield* callback("square", yield* authorize(caller, venue, "square", "MLSHAREDMERCHANT"))
        assert.strictEqual(done.status, 200, done.text)
      }
      const first = yield* deliver("square", squareCustomer("MLSHAREDMERCHANT", "sq-shared-1"))
      assert.deepInclude(first, { stored: 2, duplicates: 0, unroutable: 0 })
      const again = yield* deliver("square", squareCustomer("MLSHAREDMERCHANT", "sq-shared-1"))
      assert.deepInclude(again, { stored: 0, duplicates: 2, unroutable: 0 })
      assert.include(yield* eventIds(adminA, "square"), "sq-shared-1")
      assert.include(yield* eventIds(adminB, "square"), "sq-shared-1")
    })
  )
})
