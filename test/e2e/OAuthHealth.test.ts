import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { TokenVault } from "../../application/TokenVault.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { EventPublisher } from "../../ports/EventPublisher.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import { asTenant, type Caller, call, TestApp, TestWorld } from "../support/TestApp.ts"

const tenant = TenantId.make("aaaaaaaa-0000-4000-8000-0000000000e7")
const venue = (n: number) => `aaaaaaaa-2222-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const viewer = (venueId: string): Caller => ({ tenantId: tenant, venueIds: [venueId], role: "viewer" })

/** A venue connected through the real HTTP flow: connect, the user's consent at the fake, the callback. */
const connect = (provider: OAuthProviderName, venueId: string) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* call("POST", `/api/v1/integrations/connect/${provider}`, {
      caller: admin,
      body: { venueId }
    })
    assert.strictEqual(started.status, 200, started.text)
    const query = yield* Effect.promise(() => world[provider].consent(started.body.authorizationUrl))
    const done = yield* call("GET", `/api/v1/integrations/oauth/callback/${provider}?${new URLSearchParams(query)}`)
    assert.strictEqual(done.status, 200, done.text)
    return { tenantId: tenant, id: ConnectionId.make(done.body.connection.id) }
  })

/** The ledger's calls of a connection: [operation, outcome, calls], in that order. */
const counted = (connectionId: string) =>
  asTenant(
    tenant,
    (sql) => sql<{ operation: string; outcome: string; calls: number }>`
    SELECT operation, outcome, sum(calls)::int AS calls FROM provider_call_minutes
    WHERE connection_id = ${connectionId} GROUP BY 1, 2 ORDER BY 1, 2`
  ).pipe(Effect.map((rows) => rows.map((r) => [r.operation, r.outcome, r.calls])))

const post = (path: string, venueId: string, caller: Caller = admin) =>
  call("POST", path, { caller, body: { venueId } })

const testConnection = (provider: OAuthProviderName, venueId: string) =>
  post(`/api/v1/integrations/health/${provider}/test`, venueId, viewer(venueId))

const eventsOf = (connectionId: string) =>
  Effect.gen(function* () {
    const events = yield* (yield* EventPublisher).list(tenant)
    return events.filter((e) => e.connectionId === connectionId)
  })

/** What the venue does when it removes the app in Mailchimp: the stored token stops working there. */
const removeMailchimpApp = (ref: { readonly tenantId: TenantId; readonly id: ConnectionId }) =>
  Effect.gen(function* () {
    const { mailchimp } = yield* TestWorld
    const token = yield* (yield* TokenVault).accessToken(ref)
    mailchimp.revokeToken(Redacted.value(token.token))
  })

layer(TestApp, { timeout: "60 seconds", excludeTestServices: true })(
  "OAuth connections checked with their token",
  (it) => {
    it.effect("the health test uses each provider's cheapest call and records the sample", () =>
      Effect.gen(function* () {
        const { mailchimp } = yield* TestWorld
        for (const provider of ["square", "quickbooks", "mailchimp"] as const) {
          yield* connect(provider, venue(1))
          const pings = mailchimp.stats().pings
          const tested = yield* testConnection(provider, venue(1))
          assert.strictEqual(tested.status, 200, `${provider}: ${tested.text}`)
          assert.strictEqual(tested.body.ok, true, provider)
          assert.isNull(tested.body.error)
          assert.isAtLeast(tested.body.latencyMs, 0)
          assert.strictEqual(tested.body.health.status, "healthy")
          assert.isNotNull(tested.body.health.lastSuccessAt)
          if (provider === "mailchimp") assert.strictEqual(mailchimp.stats().pings, pings + 1)
          const health = yield* call("GET", `/api/v1/integrations/health/${provider}?venueId=${venue(1)}`, {
            caller: viewer(venue(1))
          })
          assert.strictEqual(health.status, 200)
          assert.strictEqual(health.body.status, "healthy", provider)
        }
      })
    )

    it.effect("a QuickBooks token about to expire is refreshed through the vault before CompanyInfo", () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const ref = yield* connect("quickbooks", venue(2))
        yield* asTenant(
          tenant,
          (sql) => sql`UPDATE oauth_tokens SET expires_at = now() + interval '1 minute' WHERE connection_id = ${ref.id}`
        )
        const before = quickbooks.stats().refreshes
        const tested = yield* testConnection("quickbooks", venue(2))
        assert.strictEqual(tested.status, 200, tested.text)
        assert.isTrue(tested.body.ok)
        assert.strictEqual(quickbooks.stats().refreshes, before + 1)
      })
    )

    it.effect("a refused token: the test fails, the connection needs_reauth and one event is published", () =>
      Effect.gen(function* () {
        const ref = yield* connect("mailchimp", venue(3))
        yield* removeMailchimpApp(ref)
        const refused = yield* testConnection("mailchimp", venue(3))
        assert.strictEqual(refused.status, 200, refused.text)
        assert.isFalse(refused.body.ok)
        assert.match(refused.body.error, /Mailchimp refused the access token/)
        assert.strictEqual(refused.body.health.status, "degraded")
        const got = yield* call("GET", `/api/v1/integrations/mailchimp?venueId=${venue(3)}`, { caller: admin })
        assert.strictEqual(got.body.status, "needs_reauth")
        assert.match(got.body.lastError, /refused the access token/)
        const events = yield* eventsOf(ref.id)
        assert.deepStrictEqual(
          events.map((e) => [e.type, e.payload.provider, e.payload.venueId, e.payload.source]),
          [["connection.needs_reauth", "mailchimp", venue(3), "health_check"]]
        )

        // Checked again: still failing (the vault refuses a connection that needs_reauth), no second event.
        const again = yield* testConnection("mailchimp", venue(3))
        assert.isFalse(again.body.ok)
        assert.strictEqual(again.body.health.consecutiveFailures, 2)
        assert.strictEqual((yield* eventsOf(ref.id)).length, 1)
      })
    )

    it.effect("Mailchimp refresh and reconnect ask Mailchimp: 200 while the token works, 409 once it is refused", () =>
      Effect.gen(function* () {
        const { mailchimp } = yield* TestWorld
        const ref = yield* connect("mailchimp", venue(4))
        const pings = mailchimp.stats().pings
        const refreshed = yield* post("/api/v1/integrations/oauth/refresh/mailchimp", venue(4))
        assert.strictEqual(refreshed.status, 200, refreshed.text)
        assert.isNull(refreshed.body.accessTokenExpiresAt, "Mailchimp tokens do not expire")
        const reconnected = yield* post("/api/v1/integrations/mailchimp/reconnect", venue(4))
        assert.strictEqual(reconnected.status, 200, reconnected.text)
        assert.strictEqual(reconnected.body.health.status, "healthy")
        assert.strictEqual(mailchimp.stats().pings, pings + 2)

        yield* removeMailchimpApp(ref)
        const refused = yield* post("/api/v1/integrations/mailchimp/reconnect", venue(4))
        assert.strictEqual(refused.status, 409, refused.text)
        assert.strictEqual(refused.body.code, "ReauthorizationRequired")
        const got = yield* call("GET", `/api/v1/integrations/mailchimp?venueId=${venue(4)}`, { caller: admin })
        assert.strictEqual(got.body.status, "needs_reauth")
        const refreshRefused = yield* post("/api/v1/integrations/oauth/refresh/mailchimp", venue(4))
        assert.strictEqual(refreshRefused.status, 409, refreshRefused.text)
        const events = yield* eventsOf(ref.id)
        assert.deepStrictEqual(
          events.map((e) => e.payload.source),
          ["reconnect"]
        )
      })
    )

    it.effect("Square reconnect refreshes, then proves the new token with ListLocations", () =>
      Effect.gen(function* () {
        const { square } = yield* TestWorld
        yield* connect("square", venue(5))
        const before = square.stats().refreshes
        const reconnected = yield* post("/api/v1/integrations/square/reconnect", venue(5))
        assert.strictEqual(reconnected.status, 200, reconnected.text)
        assert.strictEqual(square.stats().refreshes, before + 1)
        assert.strictEqual(reconnected.body.status, "connected")
        assert.strictEqual(reconnected.body.health.status, "healthy")
      })
    )

    it.effect("Mailchimp disconnect says nothing was revoked, and why; the token is deleted anyway", () =>
      Effect.gen(function* () {
        yield* connect("mailchimp", venue(6))
        const gone = yield* post("/api/v1/integrations/mailchimp/disconnect", venue(6))
        assert.strictEqual(gone.status, 200, gone.text)
        assert.strictEqual(gone.body.status, "disconnected")
        assert.strictEqual(gone.body.revocation.revoked, false)
        assert.match(gone.body.revocation.error, /Mailchimp has no token revocation/)
        const left = yield* asTenant(
          tenant,
          (sql) => sql`SELECT 1 FROM credentials WHERE venue_id = ${venue(6)} AND provider = 'mailchimp'`
        )
        assert.strictEqual(left.length, 0)
      })
    )
    it.effect(
      "the call ledger counts token calls and webhook registration: exchange, revoke, webhook create/delete",
      () =>
        Effect.gen(function* () {
          const { mailchimp } = yield* TestWorld
          const ledger = yield* CallLedger
          const square = yield* connect("square", venue(7))
          const chimp = yield* connect("mailchimp", venue(8))
          const [audience] = mailchimp.audiences()
          const chosen = yield* call("PUT", "/api/v1/integrations/mailchimp/settings", {
            caller: admin,
            body: { venueId: venue(8), listId: audience!.id }
          })
          assert.strictEqual(chosen.status, 200, chosen.text)
          for (const [provider, n] of [
            ["square", 7],
            ["mailchimp", 8]
          ] as const)
            assert.strictEqual((yield* post(`/api/v1/integrations/${provider}/disconnect`, venue(n))).status, 200)
          yield* ledger.flush
          assert.deepStrictEqual(yield* counted(square.id), [
            ["oauth_exchange", "ok", 1],
            ["oauth_revoke", "ok", 1]
          ])
          // Mailchimp has no revocation: nothing was asked, nothing is counted.
          assert.deepStrictEqual(yield* counted(chimp.id), [
            ["oauth_exchange", "ok", 1],
            ["webhook_create", "ok", 1],
            ["webhook_delete", "ok", 1]
          ])
        })
    )

    it.effect(
      "on-demand checks and reconnects are in the ledger: an OAuth token's and an API key's, refused ones as 4xx",
      () =>
        Effect.gen(function* () {
          const { stripe } = yield* TestWorld
          const ledger = yield* CallLedger
          const square = yield* connect("square", venue(9))
          assert.strictEqual((yield* testConnection("square", venue(9))).status, 200)
          assert.strictEqual((yield* post("/api/v1/integrations/square/reconnect", venue(9))).status, 200)

          const apiKey = "sk_test_LedgerChecks0000000009"
          stripe.addKey(apiKey)
          const connected = yield* call("POST", "/api/v1/integrations/connect/stripe", {
            caller: admin,
            body: { venueId: venue(10), apiKey }
          })
          assert.strictEqual(connected.status, 201, connected.text)
          const keyed = connected.body.id as string
          assert.strictEqual((yield* testConnection("stripe" as OAuthProviderName, venue(10))).status, 200)
          stripe.revokeKey(apiKey)
          assert.strictEqual((yield* post("/api/v1/integrations/stripe/reconnect", venue(10))).status, 422)
          yield* ledger.flush

          assert.deepStrictEqual(yield* counted(square.id), [
            ["health_check", "ok", 1],
            ["oauth_exchange", "ok", 1],
            // A reconnect renews the token first.
            ["oauth_refresh", "ok", 1],
            ["reconnect_check", "ok", 1]
          ])
          assert.deepStrictEqual(yield* counted(keyed), [
            ["health_check", "ok", 1],
            ["key_check", "ok", 1],
            ["reconnect_check", "4xx", 1],
            ["webhook_create", "ok", 1]
          ])
        })
    )
  }
)
