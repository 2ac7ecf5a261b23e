import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { asTenant, type Caller, call, TestApp, TestWorld } from "../support/TestApp.ts"

const tenant = "aaaaaaaa-0000-4000-8000-0000000000e1"
const otherTenant = "bbbbbbbb-0000-4000-8000-0000000000e2"
const venue = "aaaaaaaa-1111-4000-8000-0000000000e1"
const venue2 = "aaaaaaaa-2222-4000-8000-0000000000e2"
const admin = { tenantId: tenant, venueIds: [], role: "admin" }
const venueAdmin = { tenantId: tenant, venueIds: [venue2], role: "venue_admin" }
const viewer = { tenantId: tenant, venueIds: [venue], role: "viewer" }

const post = (caller: Caller, path: string, body: unknown) => call("POST", path, { caller, body })

/** Rows of the test tenant, counted through the service role under RLS. */
const tenantRowCount = (table: string) =>
  Effect.map(
    asTenant(tenant, (sql) => sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)),
    (rows) => rows[0]!.n
  )

layer(TestApp, { timeout: "60 seconds" })("connections over HTTP", (it) => {
  it.effect("refuses requests without a valid bearer token, with a JSON error", () =>
    Effect.gen(function* () {
      const none = yield* call("GET", "/api/v1/integrations/")
      assert.strictEqual(none.status, 401)
      assert.strictEqual(none.body._tag, "Unauthorized")
      assert.strictEqual(none.body.code, "MissingToken")
      const forged = yield* call("GET", "/api/v1/integrations/", { token: "eyJhbGciOiJIUzI1NiJ9.e30.bad" })
      assert.strictEqual(forged.status, 401)
      assert.strictEqual(forged.body.code, "InvalidToken")
    })
  )

  it.effect("names the bad field: unknown provider, missing or malformed venueId, missing apiKey", () =>
    Effect.gen(function* () {
      const unknown = yield* post(admin, "/api/v1/integrations/connect/paypal", { venueId: venue, apiKey: "sk_test_x" })
      assert.strictEqual(unknown.status, 400)
      assert.strictEqual(unknown.body.field, "provider")
      const missing = yield* call("POST", "/api/v1/integrations/connect/stripe", { caller: admin, body: {} })
      assert.strictEqual(missing.status, 400)
      assert.strictEqual(missing.body.field, "venueId")
      const malformed = yield* call("GET", "/api/v1/integrations/stripe?venueId=nope", { caller: admin })
      assert.strictEqual(malformed.status, 400)
      assert.strictEqual(malformed.body.field, "venueId")
      assert.match(malformed.body.message, /UUID/)
      const noKey = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue })
      assert.strictEqual(noKey.status, 400)
      assert.strictEqual(noKey.body.field, "apiKey")
      const notJson = yield* call("POST", "/api/v1/integrations/connect/stripe", {
        caller: admin,
        headers: { "content-type": "application/json" },
        body: "{"
      })
      assert.strictEqual(notJson.status, 400)
    })
  )

  it.effect(
    "unknown body fields are 400 naming the field, as the OpenAPI document's additionalProperties: false says",
    () =>
      Effect.gen(function* () {
        const openapi = yield* call("GET", "/openapi.json")
        const body = openapi.body.paths["/api/v1/integrations/connect/{provider}"].post.requestBody
        assert.strictEqual(body.content["application/json"].schema.additionalProperties, false)
        const extra = yield* post(admin, "/api/v1/integrations/connect/stripe", {
          venueId: venue,
          apiKey: "sk_test_extrafield00001111",
          label: "main"
        })
        assert.strictEqual(extra.status, 400)
        assert.strictEqual(extra.body.field, "label")
        const nested = yield* post(admin, "/api/v1/integrations/stripe/disconnect", { venueId: venue, force: true })
        assert.strictEqual(nested.status, 400)
        assert.strictEqual(nested.body.field, "force")
      })
  )

  it.effect("a key of the wrong length or shape is 422 naming apiKey, before Stripe is asked", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const before = stripe.requests()
      // Half a megabyte: a whole megabyte is past HTTP_MAX_BODY, refused as 413 before anything reads it.
      for (const apiKey of [`sk_test_${"A".repeat(512 * 1024)}`, `sk_test_${"A".repeat(248)}`, "sk_test_has spaces"]) {
        const reply = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey })
        assert.strictEqual(reply.status, 422)
        assert.strictEqual(reply.body.field, "apiKey")
        assert.notInclude(reply.text, "AAAA")
      }
      assert.strictEqual(stripe.requests(), before)
    })
  )

  it.effect("a wrong key is 422 and stores nothing; Stripe or KMS down is 503 and stores nothing", () =>
    Effect.gen(function* () {
      const { stripe, kms } = yield* TestWorld
      const wrong = yield* post(admin, "/api/v1/integrations/connect/stripe", {
        venueId: venue,
        apiKey: "sk_test_notarealkey000000"
      })
      assert.strictEqual(wrong.status, 422)
      assert.strictEqual(wrong.body.field, "apiKey")
      assert.strictEqual(wrong.body.code, "InvalidCredentials")
      const key = "sk_test_down4242424242424242"
      stripe.addKey(key)
      stripe.setFailure("unavailable")
      const down = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey: key }).pipe(
        Effect.ensuring(Effect.sync(() => stripe.setFailure(null)))
      )
      assert.strictEqual(down.status, 503)
      assert.strictEqual(down.body.code, "ProviderUnavailable")
      kms.setUnavailable(true)
      const kmsDown = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey: key }).pipe(
        Effect.ensuring(Effect.sync(() => kms.setUnavailable(false)))
      )
      assert.strictEqual(kmsDown.status, 503)
      assert.strictEqual(kmsDown.body.code, "KeyManagementUnavailable")
      assert.strictEqual(yield* tenantRowCount("connections"), 0)
      assert.strictEqual(yield* tenantRowCount("credentials"), 0)
      assert.strictEqual(
        (yield* call("GET", `/api/v1/integrations/stripe?venueId=${venue}`, { caller: admin })).status,
        404
      )
    })
  )

  it.effect("connect, list, get, test, reconnect, conflict, disconnect: the whole life of a Stripe connection", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const apiKey = "sk_test_venuelife51Hxyz0123456789"
      const { accountId } = stripe.addKey(apiKey, { name: "Grand Hall" })

      const created = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey })
      assert.strictEqual(created.status, 201)
      assert.strictEqual(created.body.status, "connected")
      assert.strictEqual(created.body.accountId, accountId)
      assert.strictEqual(created.body.accountName, "Grand Hall")
      assert.strictEqual(created.body.livemode, false)
      assert.strictEqual(created.body.health.status, "healthy")
      assert.notInclude(created.text, apiKey)
      // The API key and the signing secret of the webhook endpoint registered at Stripe, both sealed.
      assert.strictEqual(yield* tenantRowCount("credentials"), 2)
      assert.strictEqual(stripe.webhookEndpoints(accountId).length, 1)
      assert.strictEqual(yield* tenantRowCount("integration_health"), 1)

      const again = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey })
      assert.strictEqual(again.status, 409)

      const listed = yield* call("GET", "/api/v1/integrations/", { caller: admin })
      assert.strictEqual(listed.status, 200)
      assert.deepStrictEqual(
        listed.body.map((c: any) => [c.venueId, c.provider]),
        [[venue, "stripe"]]
      )
      const seenByViewer = yield* call("GET", `/api/v1/integrations/stripe?venueId=${venue}`, { caller: viewer })
      assert.strictEqual(seenByViewer.status, 200)
      assert.strictEqual(seenByViewer.body.id, created.body.id)

      const tested = yield* post(viewer, "/api/v1/integrations/health/stripe/test", { venueId: venue })
      assert.strictEqual(tested.status, 200)
      assert.strictEqual(tested.body.ok, true)
      assert.strictEqual(tested.body.health.consecutiveFailures, 0)

      stripe.revokeKey(apiKey)
      const failing = yield* post(admin, "/api/v1/integrations/health/stripe/test", { venueId: venue })
      assert.strictEqual(failing.body.ok, false)
      assert.strictEqual(failing.body.health.status, "degraded")
      const reconnect = yield* post(admin, "/api/v1/integrations/stripe/reconnect", { venueId: venue })
      assert.strictEqual(reconnect.status, 422)
      const afterReconnect = yield* call("GET", `/api/v1/integrations/stripe?venueId=${venue}`, { caller: admin })
      assert.strictEqual(afterReconnect.body.status, "needs_reauth")

      const newKey = "sk_test_venueliferotated987654321"
      stripe.addKey(newKey, { accountId })
      const replaced = yield* post(admin, "/api/v1/integrations/stripe/api-key", { venueId: venue, apiKey: newKey })
      assert.strictEqual(replaced.status, 200)
      assert.strictEqual(replaced.body.status, "connected")
      assert.strictEqual(replaced.body.id, created.body.id)
      const health = yield* call("GET", `/api/v1/integrations/health/stripe?venueId=${venue}`, { caller: admin })
      assert.strictEqual(health.body.status, "healthy")

      const gone = yield* post(admin, "/api/v1/integrations/stripe/disconnect", { venueId: venue })
      assert.strictEqual(gone.status, 200)
      assert.strictEqual(gone.body.status, "disconnected")
      assert.strictEqual(yield* tenantRowCount("credentials"), 0)
      const testAfter = yield* post(admin, "/api/v1/integrations/health/stripe/test", { venueId: venue })
      assert.strictEqual(testAfter.status, 422)
    })
  )

  it.effect("20 concurrent connects of one new venue: exactly one 201, every other one 409, one row", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const raceVenue = "aaaaaaaa-4444-4000-8000-0000000000e4"
      const apiKey = "sk_test_race00001111222233334444"
      const { accountId } = stripe.addKey(apiKey)
      const replies = yield* Effect.forEach(
        Array.from({ length: 20 }),
        () => post(admin, "/api/v1/integrations/connect/stripe", { venueId: raceVenue, apiKey }),
        { concurrency: "unbounded" }
      )
      const statuses = replies.map((r) => r.status).sort()
      assert.deepStrictEqual(statuses, [201, ...Array.from({ length: 19 }, () => 409)])
      assert.isTrue(replies.filter((r) => r.status === 409).every((r) => r.body.code === "AlreadyConnected"))
      const rows = yield* asTenant(
        tenant,
        (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM connections WHERE venue_id = ${raceVenue}`
      )
      assert.strictEqual(rows[0]!.n, 1)
      // Only the winner's webhook endpoint stays at Stripe: the losers' are deleted again.
      assert.strictEqual(stripe.webhookEndpoints(accountId).length, 1)
    })
  )

  it.effect("a stored key that does not open is a 500 logged at error with its cause, never the key", () =>
    Effect.gen(function* () {
      const { stripe, logs } = yield* TestWorld
      const damagedVenue = "aaaaaaaa-5555-4000-8000-0000000000e5"
      const apiKey = "sk_test_damaged00001111222233334444"
      stripe.addKey(apiKey)
      assert.strictEqual(
        (yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: damagedVenue, apiKey })).status,
        201
      )
      yield* asTenant(
        tenant,
        (sql) =>
          sql`UPDATE credentials SET ciphertext = ciphertext || '\\x00'::bytea
            WHERE venue_id = ${damagedVenue} AND field = 'api_key'`
      )
      const before = logs.length
      const tested = yield* post(admin, "/api/v1/integrations/health/stripe/test", { venueId: damagedVenue })
      assert.strictEqual(tested.status, 500)
      assert.strictEqual(tested.body.code, "SecretUnreadable")
      const errors = logs.slice(before).filter((line) => JSON.parse(line).level === "ERROR")
      assert.strictEqual(errors.length, 1, logs.slice(before).join("\n"))
      assert.include(errors[0], "SecretUnreadable: the secret does not open here")
      assert.include(errors[0], "/api/v1/integrations/health/stripe/test")
      assert.notInclude(errors.join("\n"), apiKey)
      // A refusal of bad input is an answer, not a failure: no error line.
      const refused = yield* post(admin, "/api/v1/integrations/connect/stripe", { venueId: damagedVenue, apiKey })
      assert.strictEqual(refused.status, 409)
      assert.isFalse(logs.slice(before + errors.length).some((line) => JSON.parse(line).level === "ERROR"))
      // Later tests sample every stored credential (the deep check): leave only sound ones.
      yield* asTenant(tenant, (sql) => sql`DELETE FROM credentials WHERE venue_id = ${damagedVenue}`)
    })
  )

  it.effect("roles: viewers read only, venue admins manage only their venues, other tenants see nothing", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const apiKey = "sk_test_roles0000111122223333"
      stripe.addKey(apiKey)
      const byViewer = yield* post(viewer, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey })
      assert.strictEqual(byViewer.status, 403)
      const otherVenue = yield* post(venueAdmin, "/api/v1/integrations/connect/stripe", { venueId: venue, apiKey })
      assert.strictEqual(otherVenue.status, 403)
      assert.strictEqual(otherVenue.body.field, "venueId")
      const own = yield* post(venueAdmin, "/api/v1/integrations/connect/stripe", { venueId: venue2, apiKey })
      assert.strictEqual(own.status, 201)
      const listedByVenueAdmin = yield* call("GET", "/api/v1/integrations/", { caller: venueAdmin })
      assert.deepStrictEqual(
        listedByVenueAdmin.body.map((c: any) => [c.venueId, c.provider]),
        [[venue2, "stripe"]]
      )
      const stranger = { tenantId: otherTenant, venueIds: [venue2], role: "admin" }
      assert.deepStrictEqual((yield* call("GET", "/api/v1/integrations/", { caller: stranger })).body, [])
      const strangerGet = yield* call("GET", `/api/v1/integrations/stripe?venueId=${venue2}`, { caller: stranger })
      assert.strictEqual(strangerGet.status, 404)
      const strangerDisconnect = yield* post(stranger, "/api/v1/integrations/stripe/disconnect", { venueId: venue2 })
      assert.strictEqual(strangerDisconnect.status, 404)
    })
  )

  it.effect("replacing the key of a venue that never connected is 404; OAuth providers take no API key", () =>
    Effect.gen(function* () {
      const unconnected = "aaaaaaaa-3333-4000-8000-0000000000e3"
      const reply = yield* post(admin, "/api/v1/integrations/stripe/api-key", {
        venueId: unconnected,
        apiKey: "sk_test_whatever1234567890"
      })
      assert.strictEqual(reply.status, 404)
      assert.strictEqual(reply.body.code, "ConnectionNotFound")
      const square = yield* post(admin, "/api/v1/integrations/connect/square", {
        venueId: unconnected,
        apiKey: "EAAAtoken"
      })
      assert.strictEqual(square.status, 422)
      assert.strictEqual(square.body.field, "provider")
    })
  )

  it.effect("echoes or generates x-request-id", () =>
    Effect.gen(function* () {
      const given = yield* call("GET", "/monitoring/health/live", { headers: { "x-request-id": "req-abc.123" } })
      assert.strictEqual(given.headers["x-request-id"], "req-abc.123")
      const generated = yield* call("GET", "/monitoring/health/live", {
        headers: { "x-request-id": "bad id with spaces" }
      })
      assert.match(generated.headers["x-request-id"]!, /^[0-9a-f-]{36}$/)
      const notFound = yield* call("GET", "/nope")
      assert.strictEqual(notFound.status, 404)
      assert.strictEqual(notFound.body._tag, "NotFound")
      assert.isDefined(notFound.headers["x-request-id"])
    })
  )

  it.effect("serves OpenAPI with the bearer scheme and Scalar docs", () =>
    Effect.gen(function* () {
      const openapi = yield* call("GET", "/openapi.json")
      assert.strictEqual(openapi.status, 200)
      assert.property(openapi.body.paths, "/api/v1/integrations/connect/{provider}")
      assert.property(openapi.body.paths, "/monitoring/health/ready")
      assert.deepInclude(JSON.stringify(openapi.body.components.securitySchemes), "bearer")
      const docs = yield* call("GET", "/docs")
      assert.strictEqual(docs.status, 200)
      assert.match(docs.text, /<html/i)
    })
  )

  it.effect("readiness is open; the deep check is for admins and reaches the database and KMS", () =>
    Effect.gen(function* () {
      const ready = yield* call("GET", "/monitoring/health/ready")
      assert.strictEqual(ready.status, 200)
      assert.strictEqual(ready.body.checks.database, "ok")
      assert.strictEqual((yield* call("GET", "/monitoring/health/deep")).status, 401)
      assert.strictEqual((yield* call("GET", "/monitoring/health/deep", { caller: viewer })).status, 403)
      const { kms } = yield* TestWorld
      const deep = yield* call("GET", "/monitoring/health/deep", { caller: admin })
      assert.strictEqual(deep.status, 200)
      assert.strictEqual(deep.body.checks.database, "ok")
      assert.strictEqual(deep.body.checks.kms, "ok")
      assert.match(deep.body.checks.credentials, /^ok: /, "the stored credentials open with the configured key")
      kms.setUnavailable(true)
      const degraded = yield* call("GET", "/monitoring/health/deep", { caller: admin }).pipe(
        Effect.ensuring(Effect.sync(() => kms.setUnavailable(false)))
      )
      assert.strictEqual(degraded.status, 503)
    })
  )
})
