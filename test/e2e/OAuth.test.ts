import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { FetchHttpClient } from "effect/http"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { asTenant, type Caller, call, publicBaseUrl, TestApp, TestWorld, testAppWith } from "../support/TestApp.ts"

const tenant = "aaaaaaaa-0000-4000-8000-0000000000f1"
const venue = (n: number) => `aaaaaaaa-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const viewer: Caller = { tenantId: tenant, venueIds: [venue(1)], role: "viewer" }

const snapshot = asTenant(tenant, (sql) =>
  Effect.all({
    connections: sql`SELECT venue_id, provider, status, account_id, last_error, updated_at FROM connections
      ORDER BY venue_id, provider`,
    credentials: sql`SELECT venue_id, provider, field, ciphertext FROM credentials ORDER BY venue_id, provider, field`,
    tokens: sql`SELECT connection_id, version FROM oauth_tokens ORDER BY connection_id`
  })
)

/** An admin's POST for one venue. */
const adminPost = (path: string, venueId: string) => call("POST", path, { caller: admin, body: { venueId } })

/** Starts a connection over HTTP and plays the user at the provider's authorize page; returns the callback query. */
const authorize = (provider: OAuthProviderName, venueId: string, options: { readonly deny?: boolean } = {}) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* adminPost(`/api/v1/integrations/connect/${provider}`, venueId)
    assert.strictEqual(started.status, 200, started.text)
    const url = new URL(started.body.authorizationUrl)
    assert.strictEqual(
      url.searchParams.get("redirect_uri"),
      `${publicBaseUrl}/api/v1/integrations/oauth/callback/${provider}`
    )
    assert.isTrue(new Date(started.body.expiresAt).getTime() > Date.now() + 9 * 60_000)
    const query = yield* Effect.promise(() => world[provider].consent(started.body.authorizationUrl, options))
    return { query, authorizationUrl: url }
  })

const callback = (provider: string, query: Record<string, string>) =>
  call("GET", `/api/v1/integrations/oauth/callback/${provider}?${new URLSearchParams(query)}`).pipe(
    // Read the redirect instead of following it: the browser is the test.
    Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
  )

layer(TestApp, { timeout: "60 seconds", excludeTestServices: true })("OAuth connections over HTTP", (it) => {
  it.effect("connects Square, QuickBooks and Mailchimp end to end: connected, tokens sealed, account id stored", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const expected: Record<OAuthProviderName, string> = {
        square: "MLFAKEMERCHANT01",
        quickbooks: world.quickbooks.realmId,
        mailchimp: ""
      }
      for (const provider of ["square", "quickbooks", "mailchimp"] as const) {
        const { query, authorizationUrl } = yield* authorize(provider, venue(1))
        assert.strictEqual(authorizationUrl.searchParams.get("state")?.length, 43, "256 random bits, base64url")
        if (provider === "square") assert.strictEqual(authorizationUrl.searchParams.get("code_challenge")?.length, 43)
        const done = yield* callback(provider, query)
        assert.strictEqual(done.status, 200, done.text)
        assert.strictEqual(done.body.status, "connected")
        const got = yield* call("GET", `/api/v1/integrations/${provider}?venueId=${venue(1)}`, { caller: viewer })
        assert.strictEqual(got.body.status, "connected")
        assert.strictEqual(got.body.authType, "oauth2")
        if (provider === "mailchimp") assert.match(got.body.accountId, /^us\d+:\S+$/)
        else assert.strictEqual(got.body.accountId, expected[provider])
      }
      const { credentials, tokens } = yield* snapshot
      const fields = credentials.map((c: any) => `${c.provider}:${c.field}`).sort()
      assert.deepStrictEqual(fields, [
        "mailchimp:access_token",
        "quickbooks:access_token",
        "quickbooks:refresh_token",
        "square:access_token",
        "square:refresh_token"
      ])
      assert.strictEqual(tokens.length, 3)
      const stored = yield* asTenant(
        tenant,
        (sql) => sql<{ dc: string }>`SELECT extra->>'dc' AS dc FROM oauth_tokens t
        JOIN connections c ON c.id = t.connection_id WHERE c.provider = 'mailchimp'`
      )
      assert.match(stored[0]!.dc, /^us\d+$/)
    })
  )

  it.effect("a callback for a connected venue replaces the tokens at once and keeps the connection", () =>
    Effect.gen(function* () {
      const first = yield* authorize("quickbooks", venue(2))
      assert.strictEqual((yield* callback("quickbooks", first.query)).status, 200)
      const before = yield* snapshot
      const again = yield* authorize("quickbooks", venue(2))
      const done = yield* callback("quickbooks", again.query)
      assert.strictEqual(done.status, 200)
      const after = yield* snapshot
      const row = (s: typeof before) => (s.connections as Array<any>).find((c) => c.venueId === venue(2))
      const cipher = (s: typeof before) =>
        (s.credentials as Array<any>)
          .filter((c) => c.venueId === venue(2))
          .map((c) => Buffer.from(c.ciphertext).toString("hex"))
      assert.strictEqual(row(after).status, "connected")
      assert.notDeepEqual(cipher(after), cipher(before))
      const versions = (s: typeof before) => (s.tokens as Array<any>).map((t) => Number(t.version)).sort()
      assert.isTrue(versions(after).includes(2))
    })
  )

  it.effect("forged, replayed, expired and cross-provider states are 400 and change nothing", () =>
    Effect.gen(function* () {
      const forged = yield* callback("square", { code: "sq0cgb-whatever", state: "A".repeat(43) })
      assert.strictEqual(forged.status, 400)
      assert.strictEqual(forged.body.code, "InvalidOAuthState")
      assert.strictEqual((yield* callback("square", { code: "x" })).status, 400)

      // Cross-provider: Square's state presented to the QuickBooks callback is refused and stays usable.
      const square = yield* authorize("square", venue(3))
      const before = yield* snapshot
      const cross = yield* callback("quickbooks", { ...square.query, realmId: "1" })
      assert.strictEqual(cross.status, 400)
      assert.deepStrictEqual(yield* snapshot, before)
      assert.strictEqual((yield* callback("square", square.query)).status, 200)

      // Replay of a used state.
      const afterFirst = yield* snapshot
      const replay = yield* callback("square", square.query)
      assert.strictEqual(replay.status, 400)
      assert.strictEqual(replay.body.code, "InvalidOAuthState")
      assert.deepStrictEqual(yield* snapshot, afterFirst)

      // Expired: the state is older than 10 minutes.
      const late = yield* authorize("quickbooks", venue(4))
      yield* asTenant(tenant, (sql) => sql`UPDATE oauth_states SET expires_at = now() - interval '1 second'`)
      const beforeLate = yield* snapshot
      const expired = yield* callback("quickbooks", late.query)
      assert.strictEqual(expired.status, 400)
      assert.deepStrictEqual(yield* snapshot, beforeLate)
    })
  )

  it.effect("a callback without code or state says which is missing, and a valid state stays usable", () =>
    Effect.gen(function* () {
      const { query } = yield* authorize("square", venue(20))
      const before = yield* snapshot
      const noCode = yield* callback("square", { state: query.state! })
      assert.strictEqual(noCode.status, 400)
      assert.strictEqual(noCode.body.field, "code")
      assert.strictEqual(noCode.body.code, "IncompleteOAuthCallback")
      assert.match(noCode.body.message, /no code/)
      const noState = yield* callback("square", { code: query.code! })
      assert.strictEqual(noState.status, 400)
      assert.strictEqual(noState.body.field, "state")
      assert.deepStrictEqual(yield* snapshot, before)
      assert.strictEqual((yield* callback("square", query)).status, 200)
    })
  )

  it.effect("a code from another venue's authorization does not connect this venue (PKCE binds it)", () =>
    Effect.gen(function* () {
      const a = yield* authorize("square", venue(5))
      const b = yield* authorize("square", venue(6))
      const before = yield* snapshot
      const mixed = yield* callback("square", { code: b.query.code!, state: a.query.state! })
      assert.strictEqual(mixed.status, 400)
      assert.strictEqual(mixed.body.code, "OAuthGrantRejected")
      assert.deepStrictEqual(yield* snapshot, before)
    })
  )

  it.effect("access_denied leaves the venue disconnected with the reason recorded", () =>
    Effect.gen(function* () {
      const { query } = yield* authorize("quickbooks", venue(7), { deny: true })
      assert.strictEqual(query.error, "access_denied")
      const reply = yield* callback("quickbooks", query)
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.body.status, "denied")
      const got = yield* call("GET", `/api/v1/integrations/quickbooks?venueId=${venue(7)}`, { caller: admin })
      assert.strictEqual(got.body.status, "disconnected")
      assert.match(got.body.lastError, /access_denied/)
    })
  )

  it.effect(
    "refresh and reconnect go through the vault; disconnect revokes and deletes even when revocation fails",
    () =>
      Effect.gen(function* () {
        const { quickbooks, square } = yield* TestWorld
        const q = yield* authorize("quickbooks", venue(8))
        assert.strictEqual((yield* callback("quickbooks", q.query)).status, 200)
        const refreshesBefore = quickbooks.stats().refreshes
        const refreshed = yield* adminPost("/api/v1/integrations/oauth/refresh/quickbooks", venue(8))
        assert.strictEqual(refreshed.status, 200, refreshed.text)
        assert.strictEqual(refreshed.body.status, "connected")
        assert.isTrue(new Date(refreshed.body.accessTokenExpiresAt).getTime() > Date.now() + 50 * 60_000)
        const reconnected = yield* adminPost("/api/v1/integrations/quickbooks/reconnect", venue(8))
        assert.strictEqual(reconnected.status, 200, reconnected.text)
        assert.strictEqual(quickbooks.stats().refreshes, refreshesBefore + 2)
        assert.strictEqual(quickbooks.stats().staleRefreshes, 0)

        const revocationsBefore = quickbooks.stats().revocations
        const gone = yield* adminPost("/api/v1/integrations/quickbooks/disconnect", venue(8))
        assert.strictEqual(gone.status, 200, gone.text)
        assert.strictEqual(gone.body.status, "disconnected")
        assert.deepStrictEqual(gone.body.revocation, { revoked: true, error: null })
        assert.strictEqual(quickbooks.stats().revocations, revocationsBefore + 1)

        const s = yield* authorize("square", venue(9))
        assert.strictEqual((yield* callback("square", s.query)).status, 200)
        square.fail("server_error", 5)
        const failed = yield* adminPost("/api/v1/integrations/square/disconnect", venue(9))
        assert.strictEqual(failed.status, 200, failed.text)
        assert.strictEqual(failed.body.status, "disconnected")
        assert.strictEqual(failed.body.revocation.revoked, false)
        assert.match(failed.body.revocation.error, /square|Square/)
        square.fail("server_error", 0)
        const left = (yield* snapshot).credentials.filter((c: any) => [venue(8), venue(9)].includes(c.venueId))
        assert.strictEqual(left.length, 0)
      })
  )

  it.effect("only managers may start, refresh or disconnect", () =>
    Effect.gen(function* () {
      const start = yield* call("POST", "/api/v1/integrations/connect/square", {
        caller: viewer,
        body: { venueId: venue(1) }
      })
      assert.strictEqual(start.status, 403)
      const refresh = yield* call("POST", "/api/v1/integrations/oauth/refresh/square", {
        caller: viewer,
        body: { venueId: venue(1) }
      })
      assert.strictEqual(refresh.status, 403)
      assert.strictEqual((yield* call("POST", "/api/v1/integrations/oauth/refresh/square", { body: {} })).status, 401)
    })
  )

  it.effect("no token, code or client secret in logs, spans or responses", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const q = yield* authorize("quickbooks", venue(10))
      const reply = yield* callback("quickbooks", q.query)
      const secrets = [
        world.square.clientSecret,
        world.quickbooks.clientSecret,
        world.mailchimp.clientSecret,
        q.query.code!,
        q.query.state!
      ]
      const tokenShapes = [/eyJfakeQboAccess\./, /AB11fakeQboRefresh/, /EAAAl[A-Za-z0-9_-]{8}/, /EQAAl[A-Za-z0-9_-]{8}/]
      // Only the test's own HTTP client (the "browser") records the callback URL with its one-time code and state.
      const spans = world.spans
        .getFinishedSpans()
        .map((s) => JSON.stringify({ kind: s.kind, name: s.name, attributes: s.attributes, events: s.events }))
      for (const text of [reply.text, ...world.logs, ...spans]) {
        for (const secret of secrets) assert.notInclude(text, secret)
        for (const shape of tokenShapes) assert.notMatch(text, shape)
      }
    })
  )
})

layer(testAppWith(Effect.succeed({ SQUARE_CLIENT_ID: "" })), { timeout: "60 seconds", excludeTestServices: true })(
  "OAuth without configuration",
  (it) => {
    it.effect("connect answers 422 naming the missing setting", () =>
      Effect.gen(function* () {
        const reply = yield* adminPost("/api/v1/integrations/connect/square", venue(1))
        assert.strictEqual(reply.status, 422)
        assert.strictEqual(reply.body.field, "SQUARE_CLIENT_ID")
        assert.match(reply.body.message, /SQUARE_CLIENT_ID/)
        const other = yield* adminPost("/api/v1/integrations/connect/quickbooks", venue(1))
        assert.strictEqual(other.status, 200)
      })
    )
  }
)

layer(
  testAppWith(
    Effect.succeed({
      OAUTH_SUCCESS_URL: "https://app.example.test/integrations/done",
      OAUTH_FAILURE_URL: "https://app.example.test/integrations/failed"
    })
  ),
  { timeout: "60 seconds", excludeTestServices: true }
)("OAuth with success and failure pages", (it) => {
  it.effect("the callback redirects to the configured pages, with no secret in the location", () =>
    Effect.gen(function* () {
      const ok = yield* authorize("quickbooks", venue(1))
      const done = yield* callback("quickbooks", ok.query)
      assert.strictEqual(done.status, 302)
      const location = new URL(done.headers.location!)
      assert.strictEqual(`${location.origin}${location.pathname}`, "https://app.example.test/integrations/done")
      assert.strictEqual(location.searchParams.get("venueId"), venue(1))
      assert.notInclude(done.headers.location!, ok.query.code!)

      const denied = yield* authorize("square", venue(2), { deny: true })
      const refused = yield* callback("square", denied.query)
      assert.strictEqual(refused.status, 302)
      const failure = new URL(refused.headers.location!)
      assert.strictEqual(failure.pathname, "/integrations/failed")
      assert.strictEqual(failure.searchParams.get("error"), "access_denied")

      assert.strictEqual((yield* callback("square", { code: "x", state: "forged" })).status, 400)
    })
  )
})
