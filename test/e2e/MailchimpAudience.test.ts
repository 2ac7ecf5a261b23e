import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { TokenVault } from "../../application/TokenVault.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { asTenant, type Caller, call, publicBaseUrl, TestApp, TestWorld } from "../support/TestApp.ts"

// Issue 13: a Mailchimp connection made through the real OAuth flow gets its audience chosen, the webhook registered
// at Mailchimp with an endpoint id and a URL secret of its own, and its events routed by that endpoint.
const tenant = TenantId.make("aaaaaaaa-0000-4000-8000-0000000000c3")
const venue = (n: number) => `aaaaaaaa-3333-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const settingsPath = "/api/v1/integrations/mailchimp/settings"

const connect = (venueId: string) =>
  Effect.gen(function* () {
    const { mailchimp } = yield* TestWorld
    const started = yield* call("POST", "/api/v1/integrations/connect/mailchimp", { caller: admin, body: { venueId } })
    assert.strictEqual(started.status, 200, started.text)
    const query = yield* Effect.promise(() => mailchimp.consent(started.body.authorizationUrl))
    const done = yield* call("GET", `/api/v1/integrations/oauth/callback/mailchimp?${new URLSearchParams(query)}`)
    assert.strictEqual(done.status, 200, done.text)
    return ConnectionId.make(done.body.connection.id)
  })

const choose = (venueId: string, listId: unknown, caller: Caller = admin) =>
  call("PUT", settingsPath, { caller, body: { venueId, listId } })

/** What Mailchimp posts: a form, to the URL registered on the audience exactly (its query carries the secret). */
const deliver = (target: string, fields: Record<string, string>) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(target).pipe(
        HttpClientRequest.bodyText(new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded")
      )
    )
    return { status: response.status, text: yield* response.text }
  }).pipe(Effect.orDie)

const unsubscribe = (listId: string, email: string) => ({
  type: "unsubscribe",
  fired_at: "2026-11-30 10:00:00",
  "data[action]": "unsub",
  "data[reason]": "manual",
  "data[id]": "8a25ff1d98",
  "data[list_id]": listId,
  "data[email]": email,
  "data[email_type]": "html"
})

/** The registered URL as the service sees it: path and query, with the secret in it. */
const pathOf = (registered: string) => {
  assert.isTrue(registered.startsWith(`${publicBaseUrl}${webhookPath}/mailchimp?`), registered)
  return registered.slice(publicBaseUrl.length)
}

const inbox = Effect.gen(function* () {
  const listed = yield* call("GET", "/api/v1/integrations/webhooks/mailchimp/events?limit=100", { caller: admin })
  assert.strictEqual(listed.status, 200, listed.text)
  return listed.body.events as ReadonlyArray<{ connectionId: string; type: string; payload: any }>
})

layer(TestApp, { timeout: "60 seconds", excludeTestServices: true })("Mailchimp audience and its webhook", (it) => {
  it.effect(
    "OAuth connect → PUT settings → webhook at Mailchimp → events routed by endpoint → disconnect removes it",
    () =>
      Effect.gen(function* () {
        const world = yield* TestWorld
        const { mailchimp } = world
        const [first, second] = mailchimp.audiences()
        const connectionId = yield* connect(venue(1))

        const chosen = yield* choose(venue(1), first!.id)
        assert.strictEqual(chosen.status, 200, chosen.text)
        assert.strictEqual(chosen.body.listId, first!.id)
        assert.strictEqual(chosen.body.audienceName, first!.name)
        assert.deepStrictEqual(chosen.body.webhook.events, ["unsubscribe", "cleaned", "upemail"])
        assert.notInclude(chosen.body.webhook.url, "secret", "the answer never shows the URL secret")

        const [webhook, ...others] = mailchimp.webhooks()
        assert.isDefined(webhook)
        assert.deepStrictEqual(others, [], "one webhook, on the chosen audience")
        assert.strictEqual(webhook!.list_id, first!.id)
        assert.deepStrictEqual(webhook!.sources, { user: true, admin: true, api: false })
        assert.deepStrictEqual(webhook!.events, {
          subscribe: false,
          unsubscribe: true,
          profile: false,
          cleaned: true,
          upemail: true,
          campaign: false
        })
        const registered = new URL(webhook!.url)
        const secret = registered.searchParams.get("secret")!
        assert.match(registered.searchParams.get("endpoint") ?? "", /^we_[0-9a-f]{32}$/)
        assert.isAtLeast(secret.length, 43)
        assert.strictEqual(chosen.body.webhook.url, webhook!.url.replace(`&secret=${secret}`, ""))
        const stored = yield* asTenant(
          tenant,
          (sql) => sql<{ settings: { listId?: string } }>`SELECT settings FROM connections WHERE id = ${connectionId}`
        )
        assert.strictEqual(stored[0]?.settings.listId, first!.id)

        // Mailchimp validates the URL with a GET before it posts anything.
        const client = yield* HttpClient.HttpClient
        assert.strictEqual((yield* client.get(pathOf(webhook!.url)).pipe(Effect.orDie)).status, 200)

        // Mailchimp's event, posted to exactly that URL: stored in this venue's inbox, on this connection.
        const accepted = yield* deliver(pathOf(webhook!.url), unsubscribe(first!.id, "fan@example.com"))
        assert.strictEqual(accepted.status, 200, accepted.text)
        assert.deepStrictEqual(JSON.parse(accepted.text), { received: true, stored: 1, duplicates: 0, unroutable: 0 })
        const events = yield* inbox
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!.connectionId, connectionId)
        assert.strictEqual(events[0]!.type, "unsubscribe")
        assert.strictEqual(events[0]!.payload.data.email, "fan@example.com")

        // Only that connection's own secret opens its endpoint.
        const endpointOnly = `${webhookPath}/mailchimp?endpoint=${registered.searchParams.get("endpoint")}`
        const wrong = yield* deliver(`${endpointOnly}&secret=${secret.slice(0, -2)}xx`, unsubscribe(first!.id, "x@y.z"))
        assert.strictEqual(wrong.status, 401)
        assert.strictEqual(wrong.text, "")
        assert.strictEqual((yield* deliver(endpointOnly, unsubscribe(first!.id, "x@y.z"))).status, 401)
        const noEndpoint = yield* deliver(`${webhookPath}/mailchimp?secret=${secret}`, unsubscribe(first!.id, "x@y.z"))
        assert.strictEqual(noEndpoint.status, 401, "without ?endpoint= there is no secret to try")
        assert.strictEqual((yield* inbox).length, 1)

        // Another audience: the old webhook goes at Mailchimp first, the new one gets a new endpoint and secret.
        const changed = yield* choose(venue(1), second!.id)
        assert.strictEqual(changed.status, 200, changed.text)
        assert.deepStrictEqual(mailchimp.webhooks(first!.id), [])
        const [next] = mailchimp.webhooks(second!.id)
        assert.isDefined(next)
        assert.notStrictEqual(new URL(next!.url).searchParams.get("secret"), secret)
        assert.strictEqual(
          (yield* deliver(pathOf(webhook!.url), unsubscribe(first!.id, "late@example.com"))).status,
          401
        )
        const moved = yield* deliver(pathOf(next!.url), unsubscribe(second!.id, "member@example.com"))
        assert.strictEqual(JSON.parse(moved.text).stored, 1, moved.text)

        const deletions = mailchimp.stats().webhooksDeleted
        const disconnected = yield* call("POST", "/api/v1/integrations/mailchimp/disconnect", {
          caller: admin,
          body: { venueId: venue(1) }
        })
        assert.strictEqual(disconnected.status, 200, disconnected.text)
        assert.deepStrictEqual(mailchimp.webhooks(), [], "disconnect deletes the webhook at Mailchimp")
        assert.strictEqual(mailchimp.stats().webhooksDeleted, deletions + 1)
        assert.strictEqual((yield* deliver(pathOf(next!.url), unsubscribe(second!.id, "gone@example.com"))).status, 401)
        const left = yield* asTenant(
          tenant,
          (sql) => sql<{
            n: number
          }>`SELECT (SELECT count(*) FROM webhook_endpoints WHERE connection_id = ${connectionId})
          + (SELECT count(*) FROM credentials WHERE connection_id = ${connectionId})
          + (SELECT count(*) FROM connections WHERE id = ${connectionId} AND settings ? 'listId') AS n`
        )
        assert.strictEqual(Number(left[0]?.n), 0, "no endpoint, secret or audience is left")

        for (const line of world.logs) assert.notInclude(line, secret)
        for (const span of world.spans.getFinishedSpans()) assert.notInclude(JSON.stringify(span.attributes), secret)
      })
  )

  it.effect("an audience the account does not have is 422 naming listId, and nothing is registered", () =>
    Effect.gen(function* () {
      const { mailchimp } = yield* TestWorld
      const id = yield* connect(venue(2))
      const before = mailchimp.stats().webhooksCreated
      const unknown = yield* choose(venue(2), "0000000000")
      assert.strictEqual(unknown.status, 422, unknown.text)
      assert.strictEqual(unknown.body.field, "listId")
      assert.include(unknown.body.message, "0000000000")
      const malformed = yield* choose(venue(2), "../lists")
      assert.strictEqual(malformed.status, 400, malformed.text)
      assert.include(malformed.text, "listId")
      assert.strictEqual(mailchimp.stats().webhooksCreated, before)
      const stored = yield* asTenant(
        tenant,
        (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_endpoints WHERE connection_id = ${id}`
      )
      assert.strictEqual(stored[0]?.n, 0)
    })
  )

  it.effect("who may choose: venue admins of the venue; a venue without Mailchimp is 404", () =>
    Effect.gen(function* () {
      const { mailchimp } = yield* TestWorld
      yield* connect(venue(3))
      const listId = mailchimp.audiences()[0]!.id
      const viewer = yield* choose(venue(3), listId, { tenantId: tenant, venueIds: [venue(3)], role: "viewer" })
      assert.strictEqual(viewer.status, 403, viewer.text)
      const elsewhere = yield* choose(venue(3), listId, { tenantId: tenant, venueIds: [venue(4)], role: "venue_admin" })
      assert.strictEqual(elsewhere.status, 403, elsewhere.text)
      const notConnected = yield* choose(venue(5), listId)
      assert.strictEqual(notConnected.status, 404, notConnected.text)
      const own = yield* choose(venue(3), listId, { tenantId: tenant, venueIds: [venue(3)], role: "venue_admin" })
      assert.strictEqual(own.status, 200, own.text)
    })
  )

  it.effect("a token Mailchimp refuses: 409, the connection needs_reauth, nothing registered", () =>
    Effect.gen(function* () {
      const { mailchimp } = yield* TestWorld
      const id = yield* connect(venue(6))
      const token = yield* (yield* TokenVault).accessToken({ tenantId: tenant, id })
      mailchimp.revokeToken(Redacted.value(token.token))
      const before = mailchimp.stats().webhooksCreated
      const refused = yield* choose(venue(6), mailchimp.audiences()[0]!.id)
      assert.strictEqual(refused.status, 409, refused.text)
      assert.strictEqual(refused.body.code, "ReauthorizationRequired")
      assert.strictEqual(mailchimp.stats().webhooksCreated, before)
      const connection = yield* call("GET", `/api/v1/integrations/mailchimp?venueId=${venue(6)}`, { caller: admin })
      assert.strictEqual(connection.body.status, "needs_reauth")
    })
  )
})
