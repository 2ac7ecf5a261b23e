import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { asTenant, type Caller, call, TestWorld, testAppWith } from "../support/TestApp.ts"

const tenant = "aaaaaaaa-0000-4000-8000-0000000000d1"
const otherTenant = "bbbbbbbb-0000-4000-8000-0000000000d2"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const otherAdmin: Caller = { tenantId: otherTenant, venueIds: [], role: "admin" }
const viewer: Caller = { tenantId: tenant, venueIds: [], role: "viewer" }

/** Short enough for a test to outlive a key. */
const ttlSeconds = 6

const connectPath = "/api/v1/integrations/connect/stripe"

const connect = (caller: Caller, key: string | undefined, body: unknown) =>
  call("POST", connectPath, { caller, body, headers: key === undefined ? {} : { "idempotency-key": key } })

/** A venue and a Stripe key the fake accepts. */
const stripeVenue = Effect.gen(function* () {
  const { stripe } = yield* TestWorld
  const apiKey = `sk_test_idem${crypto.randomUUID().replaceAll("-", "")}`
  stripe.addKey(apiKey)
  return { venueId: crypto.randomUUID(), apiKey }
})

const connectionsOf = (tenantId: string, venueId: string) =>
  Effect.map(
    asTenant(
      tenantId,
      (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM connections WHERE venue_id = ${venueId}`
    ),
    (rows) => rows[0]!.n
  )

const report = (caller: Caller = admin) =>
  Effect.map(call("GET", "/monitoring/idempotency", { caller }), (reply) => {
    assert.strictEqual(reply.status, 200, reply.text)
    return reply.body
  })

layer(testAppWith(Effect.succeed({ API_IDEMPOTENCY_TTL: `${ttlSeconds} seconds` })), {
  timeout: "60 seconds",
  excludeTestServices: true
})("Idempotency-Key over HTTP", (it) => {
  it.effect("the same key and body twice: the first answer again, replayed, and one connection", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const body = yield* stripeVenue
      const before = yield* report()
      const first = yield* connect(admin, "connect-once", body)
      assert.strictEqual(first.status, 201, first.text)
      assert.isUndefined(first.headers["idempotent-replayed"])
      const stripeCalls = stripe.requests()
      const second = yield* connect(admin, "connect-once", body)
      assert.strictEqual(second.status, 201)
      assert.strictEqual(second.headers["idempotent-replayed"], "true")
      assert.strictEqual(second.headers["content-type"], first.headers["content-type"])
      assert.strictEqual(second.text, first.text)
      assert.strictEqual(stripe.requests(), stripeCalls)
      assert.strictEqual(yield* connectionsOf(tenant, body.venueId), 1)
      // Without the key the API answers as ever: already connected.
      assert.strictEqual((yield* connect(admin, undefined, body)).status, 409)
      const after = yield* report()
      assert.strictEqual(after.api.replays, before.api.replays + 1)
      assert.strictEqual(after.api.keysHeld, before.api.keysHeld + 1)
    })
  )

  it.effect("the key with another body is 422 naming the header, and changes nothing", () =>
    Effect.gen(function* () {
      const body = yield* stripeVenue
      const before = yield* report()
      assert.strictEqual((yield* connect(admin, "reused-key", body)).status, 201)
      const other = yield* stripeVenue
      const reused = yield* connect(admin, "reused-key", other)
      assert.strictEqual(reused.status, 422)
      assert.strictEqual(reused.body.code, "IdempotencyKeyReused")
      assert.strictEqual(reused.body.field, "Idempotency-Key")
      assert.strictEqual(yield* connectionsOf(tenant, other.venueId), 0)
      assert.strictEqual((yield* report()).api.conflicts, before.api.conflicts + 1)
    })
  )

  it.effect("a malformed key is 400 naming the header", () =>
    Effect.gen(function* () {
      const body = yield* stripeVenue
      for (const key of ["k".repeat(256), "tab\tinside"]) {
        const bad = yield* connect(admin, key, body)
        assert.strictEqual(bad.status, 400, key)
        assert.strictEqual(bad.body.code, "InvalidIdempotencyKey")
        assert.strictEqual(bad.body.field, "Idempotency-Key")
      }
      assert.strictEqual(yield* connectionsOf(tenant, body.venueId), 0)
      assert.strictEqual((yield* connect(admin, "k".repeat(255), body)).status, 201)
    })
  )

  it.effect("concurrent requests with one key: one runs, the other is 409 (or its replay)", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const body = yield* stripeVenue
      stripe.setFailure("slow", { delayMs: 1_000 })
      const first = yield* Effect.forkChild(connect(admin, "concurrent", body))
      yield* Effect.sleep("300 millis")
      const second = yield* connect(admin, "concurrent", body).pipe(
        Effect.ensuring(Effect.sync(() => stripe.setFailure(null)))
      )
      const winner = yield* Fiber.join(first)
      assert.strictEqual(winner.status, 201, winner.text)
      assert.isTrue(
        second.status === 409 || (second.status === 201 && second.headers["idempotent-replayed"] === "true"),
        `${second.status} ${second.text}`
      )
      if (second.status === 409) {
        assert.strictEqual(second.body.code, "IdempotencyKeyInFlight")
        assert.strictEqual(second.body.field, "Idempotency-Key")
      }
      assert.strictEqual(yield* connectionsOf(tenant, body.venueId), 1)
      const later = yield* connect(admin, "concurrent", body)
      assert.strictEqual(later.headers["idempotent-replayed"], "true")
      assert.strictEqual(later.text, winner.text)
    })
  )

  it.effect("a key is per tenant", () =>
    Effect.gen(function* () {
      const body = yield* stripeVenue
      const ours = yield* connect(admin, "shared-key", body)
      const theirs = yield* connect(otherAdmin, "shared-key", body)
      assert.strictEqual(ours.status, 201)
      assert.strictEqual(theirs.status, 201)
      assert.isUndefined(theirs.headers["idempotent-replayed"])
      assert.notStrictEqual(theirs.body.id, ours.body.id)
      assert.strictEqual(yield* connectionsOf(otherTenant, body.venueId), 1)
    })
  )

  it.effect("a 5xx is not kept: the same key runs again", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const body = yield* stripeVenue
      stripe.setFailure("unavailable")
      const down = yield* connect(admin, "after-outage", body).pipe(
        Effect.ensuring(Effect.sync(() => stripe.setFailure(null)))
      )
      assert.strictEqual(down.status, 503)
      const retried = yield* connect(admin, "after-outage", body)
      assert.strictEqual(retried.status, 201, retried.text)
      assert.isUndefined(retried.headers["idempotent-replayed"])
    })
  )

  it.effect("after the TTL the key is forgotten and a new request runs", () =>
    Effect.gen(function* () {
      const body = yield* stripeVenue
      assert.strictEqual((yield* connect(admin, "short-lived", body)).status, 201)
      assert.strictEqual((yield* connect(admin, "short-lived", body)).headers["idempotent-replayed"], "true")
      yield* Effect.sleep(`${ttlSeconds + 1} seconds`)
      // It runs: the venue is connected already, so this time the answer is the API's own 409.
      const again = yield* connect(admin, "short-lived", body)
      assert.strictEqual(again.status, 409, again.text)
      assert.strictEqual(again.body.code, "AlreadyConnected")
      assert.isUndefined(again.headers["idempotent-replayed"])
    })
  )

  it.effect("webhook deliveries and reads ignore the header", () =>
    Effect.gen(function* () {
      const read = yield* call("GET", "/api/v1/integrations/", {
        caller: admin,
        headers: { "idempotency-key": "k".repeat(300) }
      })
      assert.strictEqual(read.status, 200)
      const delivery = yield* call("POST", "/api/v1/integrations/webhooks/stripe", {
        body: { id: "evt_1" },
        headers: { "idempotency-key": "k".repeat(300), "stripe-signature": "t=1,v1=00" }
      })
      assert.notStrictEqual(delivery.body?.field, "Idempotency-Key")
    })
  )

  it.effect("GET /monitoring/idempotency: an admin sees its tenant; other roles 403, no token 401", () =>
    Effect.gen(function* () {
      const ours = yield* report(admin)
      assert.strictEqual(ours.tenantId, tenant)
      assert.isAtLeast(ours.api.keysHeld, 1)
      for (const n of [ours.api.replays, ours.api.conflicts, ours.webhooks.duplicatesCaught, ours.sync.idempotencyHits])
        assert.isAtLeast(n, 0)
      // The other tenant's one key expired during the TTL test; ours from it is still held.
      const theirs = yield* report(otherAdmin)
      assert.strictEqual(theirs.tenantId, otherTenant)
      assert.strictEqual(theirs.api.keysHeld, 0)
      assert.strictEqual((yield* call("GET", "/monitoring/idempotency", { caller: viewer })).status, 403)
      assert.strictEqual((yield* call("GET", "/monitoring/idempotency")).status, 401)
      const openapi = yield* call("GET", "/openapi.json")
      assert.isDefined(openapi.body.paths["/monitoring/idempotency"]?.get)
    })
  )
})
