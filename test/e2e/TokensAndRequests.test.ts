import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SignJWT } from "jose"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { rawRequest, serverPort } from "../support/RawHttp.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { call, jwtSecret, TestWorld, testAppWith } from "../support/TestApp.ts"

const tenant = "aaaaaaaa-0000-4000-8000-0000000000d1"
const venue = "aaaaaaaa-1111-4000-8000-0000000000d1"
const admin = { tenantId: tenant, venueIds: [], role: "admin" }
const viewer = { tenantId: tenant, venueIds: [venue], role: "viewer" }
const venueAdmin = { tenantId: tenant, venueIds: [venue], role: "venue_admin" }
const MB = 1024 * 1024
const hour = 3600

const App = testAppWith(Effect.succeed({ JWT_MAX_TTL: "2 hours" }))

/** An HS256 token with exactly these time claims (seconds from now; null leaves the claim out). */
const tokenWith = (times: { iat?: number | null; exp?: number | null; nbf?: number }, sub = "user-1") =>
  Effect.promise(() => {
    const now = Math.floor(Date.now() / 1000)
    const claims: Record<string, unknown> = { tenant_id: tenant, venue_ids: [], role: "admin" }
    if (times.iat !== null) claims.iat = now + (times.iat ?? 0)
    if (times.exp !== null && times.exp !== undefined) claims.exp = now + times.exp
    if (times.nbf !== undefined) claims.nbf = now + times.nbf
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(sub)
      .sign(new TextEncoder().encode(jwtSecret))
  })

const listWith = (token: string) => call("GET", "/api/v1/integrations/", { token })

layer(App, { timeout: "120 seconds", excludeTestServices: true })("tokens and requests", (it) => {
  it.effect("a token must expire, within JWT_MAX_TTL; nbf and iat are still checked", () =>
    Effect.gen(function* () {
      const refused = {
        "no exp": yield* tokenWith({ exp: null }),
        "exp - iat past the maximum": yield* tokenWith({ exp: 3 * hour }),
        "no iat, exp - now past the maximum": yield* tokenWith({ iat: null, exp: 3 * hour }),
        "issued two days ago, valid one more hour": yield* tokenWith({ iat: -48 * hour, exp: hour }),
        "iat in the future": yield* tokenWith({ iat: hour, exp: 2 * hour }),
        "not yet valid (nbf)": yield* tokenWith({ exp: hour, nbf: 600 }),
        expired: yield* tokenWith({ iat: -hour, exp: -60 }),
        "sub with a NUL": yield* tokenWith({ exp: hour }, "user\u0000-1")
      }
      for (const [why, token] of Object.entries(refused)) {
        const reply = yield* listWith(token)
        assert.strictEqual(reply.status, 401, why)
        assert.strictEqual(reply.body.code, "InvalidToken", why)
        assert.strictEqual(reply.body.field, "authorization", why)
      }
      assert.match((yield* listWith(refused["no exp"])).body.message, /"exp"/)
      assert.match((yield* listWith(refused["exp - iat past the maximum"])).body.message, /JWT_MAX_TTL/)

      const accepted = {
        "within the maximum": yield* tokenWith({ exp: 2 * hour - 60 }),
        "no iat, expiring within the maximum": yield* tokenWith({ iat: null, exp: hour }),
        "issued an hour ago, for two hours": yield* tokenWith({ iat: -hour, exp: hour })
      }
      for (const [why, token] of Object.entries(accepted)) {
        assert.strictEqual((yield* listWith(token)).status, 200, why)
      }
    })
  )

  it.effect("a JSON body past HTTP_MAX_BODY is 413 without reading the rest; the limit itself passes", () =>
    Effect.gen(function* () {
      const port = yield* serverPort
      const token = yield* tokenWith({ exp: hour })
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
      const path = "/api/v1/integrations/connect/mailchimp"

      // 50 MB declared, 64 KB sent: the answer comes from the declaration alone.
      const declared = yield* Effect.promise(() =>
        rawRequest({ port, method: "POST", path, headers, declare: 50 * MB, bodyBytes: 64 * 1024 })
      )
      assert.strictEqual(declared.status, 413)
      assert.deepInclude(JSON.parse(declared.body), { _tag: "PayloadTooLarge", code: "PayloadTooLarge", field: "body" })
      assert.isTrue(declared.closed, "the connection is closed instead of drained")

      // 50 MB chunked: reading stops at the limit, long before the end.
      const chunked = yield* Effect.promise(() =>
        rawRequest({ port, method: "POST", path, headers, bodyBytes: 50 * MB })
      )
      assert.strictEqual(chunked.status, 413)
      assert.isBelow(chunked.sent, 16 * MB, `the server took ${chunked.sent} bytes`)
      assert.isTrue(chunked.closed)
      const { logs } = yield* TestWorld
      assert.isFalse(
        logs.some((line) => line.includes("maxBytes exceeded")),
        "a refused body is the caller's problem, not logged as a failure"
      )

      // Just under the limit is read and answered as usual.
      const padded = `${JSON.stringify({ venueId: venue })}${" ".repeat(MB - 100)}`
      const under = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers, body: padded }).then((r) => r.json())
      )
      assert.match(under.authorizationUrl, /^http/)
    })
  )

  it.effect("the token and the role are checked before a body is read", () =>
    Effect.gen(function* () {
      const port = yield* serverPort
      const send = (path: string, headers: Record<string, string>) =>
        Effect.promise(() =>
          rawRequest({
            port,
            method: "POST",
            path,
            headers: { "content-type": "application/json", ...headers },
            declare: 50 * MB,
            bodyBytes: 64 * 1024
          })
        )
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
      const connect = "/api/v1/integrations/connect/stripe"

      const anonymous = yield* send(connect, {})
      assert.strictEqual(anonymous.status, 401)
      assert.isTrue(anonymous.closed)
      const forged = yield* send(connect, bearer("eyJhbGciOiJIUzI1NiJ9.e30.bad"))
      assert.strictEqual(forged.status, 401)

      const sign = (caller: typeof viewer) =>
        Effect.promise(() =>
          new SignJWT({ tenant_id: caller.tenantId, venue_ids: caller.venueIds, role: caller.role })
            .setProtectedHeader({ alg: "HS256" })
            .setSubject("user-1")
            .setIssuedAt()
            .setExpirationTime("1h")
            .sign(new TextEncoder().encode(jwtSecret))
        )
      const byViewer = yield* send(connect, bearer(yield* sign(viewer)))
      assert.strictEqual(byViewer.status, 403)
      assert.strictEqual(JSON.parse(byViewer.body).field, "role")
      assert.isTrue(byViewer.closed)
      const retryByVenueAdmin = yield* send("/api/v1/integrations/webhooks/retry", bearer(yield* sign(venueAdmin)))
      assert.strictEqual(retryByVenueAdmin.status, 403, "webhook retry is for admins")
      const byAdmin = yield* send(connect, bearer(yield* sign(admin)))
      assert.strictEqual(byAdmin.status, 413, "an admin gets as far as the size check")
    })
  )

  it.effect("webhook routes keep their 4 MiB: past it 413 unread; under it the signature decides", () =>
    Effect.gen(function* () {
      const port = yield* serverPort
      const path = `${webhookPath}/stripe`
      const headers = { "content-type": "application/json", "stripe-signature": "t=1,v1=00" }
      const declared = yield* Effect.promise(() =>
        rawRequest({ port, method: "POST", path, headers, declare: 5 * MB, bodyBytes: 64 * 1024 })
      )
      assert.strictEqual(declared.status, 413)
      assert.match(JSON.parse(declared.body).message, /webhook bodies are limited to 4194304 bytes/)
      const chunked = yield* Effect.promise(() =>
        rawRequest({ port, method: "POST", path, headers, bodyBytes: 50 * MB })
      )
      assert.strictEqual(chunked.status, 413)
      assert.isBelow(chunked.sent, 20 * MB)
      const within = yield* Effect.promise(() =>
        rawRequest({ port, method: "POST", path, headers, declare: 3 * MB, bodyBytes: 3 * MB })
      )
      assert.strictEqual(within.status, 401, "read in full, then refused for its signature")
    })
  )

  it.effect("parameters that could never be valid stop at HTTP: 401 for a webhook, 400 naming the field", () =>
    Effect.gen(function* () {
      const deliver = (query: string) =>
        call("POST", `${webhookPath}/stripe${query}`, { headers: { "content-type": "application/json" }, body: {} })
      for (const query of ["?endpoint=%00", "?endpoint=we_%00", "?endpoint=x", `?endpoint=we_${"0".repeat(32)}`]) {
        const reply = yield* deliver(query)
        assert.deepStrictEqual([reply.status, reply.text], [401, ""], query)
      }
      const token = yield* tokenWith({ exp: hour })
      const events = "/api/v1/integrations/webhooks/stripe/events"
      for (const field of ["type", "cursor"]) {
        const reply = yield* call("GET", `${events}?${field}=a%00b`, { token })
        assert.strictEqual(reply.status, 400, field)
        assert.strictEqual(reply.body.field, field)
        assert.match(reply.body.message, /NUL/)
      }
      const callback = yield* call("GET", "/api/v1/integrations/oauth/callback/square?code=c&state=%00")
      assert.strictEqual(callback.status, 400)
      assert.strictEqual(callback.body.field, "state")
    })
  )

  it.effect(
    "the Node fast path: a malformed endpoint is 401; past 4 MiB 413 unread, the connection closed",
    () =>
      Effect.gen(function* () {
        const { service, base, port } = yield* spawnService("tokens-requests-", {
          JWT_SECRET: jwtSecret,
          STRIPE_WEBHOOK_SECRET: "whsec_fast_path_params",
          HTTP_REQUEST_LOG: "false"
        })
        yield* service.waitForUrl(`${base}/monitoring/health/live`, "60 seconds")
        for (const query of ["?endpoint=%00", "?endpoint=we_%00", `?endpoint=we_${"0".repeat(32)}`]) {
          const reply = yield* Effect.promise(() =>
            fetch(`${base}${webhookPath}/stripe${query}`, { method: "POST", body: "{}" }).then(async (r) => ({
              status: r.status,
              text: await r.text()
            }))
          )
          assert.deepStrictEqual([reply.status, reply.text], [401, ""], query)
        }
        const path = `${webhookPath}/stripe`
        const headers = { "content-type": "application/json", "stripe-signature": "t=1,v1=00" }
        const declared = yield* Effect.promise(() =>
          rawRequest({ port, method: "POST", path, headers, declare: 50 * MB, bodyBytes: 64 * 1024 })
        )
        assert.deepStrictEqual([declared.status, declared.closed], [413, true])
        const chunked = yield* Effect.promise(() =>
          rawRequest({ port, method: "POST", path, headers, bodyBytes: 50 * MB })
        )
        assert.deepStrictEqual([chunked.status, chunked.closed], [413, true])
        assert.isBelow(chunked.sent, 20 * MB, `the fast path took ${chunked.sent} bytes`)
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
