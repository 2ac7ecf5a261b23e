import { assert, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { SecretPlace } from "../../domain/Credential.ts"
import { TenantId, VenueId } from "../../domain/Ids.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { call, jwtSecret, TestApp, TestWorld } from "../support/TestApp.ts"

const tenant = "cccccccc-0000-4000-8000-0000000000c1"
const venue = "cccccccc-1111-4000-8000-0000000000c1"
const admin = { tenantId: tenant, venueIds: [], role: "admin" }

layer(TestApp, { timeout: "60 seconds" })("secrets and traces", (it) => {
  it.effect("one trace for a connect: HTTP → use case → SQL → KMS → Stripe, with no secret in any attribute", () =>
    Effect.gen(function* () {
      const { stripe, spans } = yield* TestWorld
      const apiKey = "sk_test_TraceMe0123456789abcdef"
      stripe.addKey(apiKey)
      const reply = yield* call("POST", "/api/v1/integrations/connect/stripe", {
        caller: admin,
        body: { venueId: venue, apiKey },
        headers: { "x-request-id": "trace-connect-1" }
      })
      assert.strictEqual(reply.status, 201)

      const finished = spans.getFinishedSpans()
      const root = finished.find((s) => s.attributes["http.request_id"] === "trace-connect-1")
      assert.isDefined(root, "the HTTP server span carries the request id")
      const trace = finished.filter((s) => s.spanContext().traceId === root!.spanContext().traceId)
      const names = trace.map((s) => s.name)
      for (const expected of [
        "Connections.connectApiKey",
        "StripeGateway.verifyApiKey",
        "PostgresConnectionStore.createConnected"
      ]) {
        assert.include(names, expected)
      }
      assert.isTrue(
        names.some((n) => /^AwsKeyManagement\./.test(n)),
        "a KMS span"
      )
      // A statement span of its own, not only the transaction around it, under the store operation that ran it.
      const insert = trace.find(
        (s) => s.name === "postgres" && String(s.attributes["db.query.text"]).includes("INSERT INTO connections")
      )
      assert.isDefined(insert, "the INSERT INTO connections statement span")
      type Span = (typeof trace)[number]
      const ancestors = (span: Span): Array<string> => {
        const parent = trace.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId)
        return parent === undefined ? [] : [parent.name, ...ancestors(parent)]
      }
      assert.includeMembers(ancestors(insert!), ["sql.transaction", "PostgresConnectionStore.createConnected"])

      const everything = JSON.stringify(
        trace.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events }))
      )
      assert.notInclude(everything, apiKey)
    })
  )

  it.effect("no API key, data key or JWT secret in any log line, span, error or response", () =>
    Effect.gen(function* () {
      const { stripe, spans, logs } = yield* TestWorld
      const apiKey = "sk_test_SecretSauce9876543210zz"
      const otherVenue = "cccccccc-2222-4000-8000-0000000000c2"
      const replies: Array<string> = []
      const record = <A extends { text: string }>(reply: A) => {
        replies.push(reply.text, JSON.stringify(reply))
        return reply
      }
      record(
        yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId: otherVenue, apiKey }
        })
      )
      stripe.addKey(apiKey)
      record(
        yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId: otherVenue, apiKey }
        })
      )
      record(
        yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId: otherVenue, apiKey }
        })
      )
      record(
        yield* call("POST", "/api/v1/integrations/health/stripe/test", { caller: admin, body: { venueId: otherVenue } })
      )
      stripe.setFailure("unavailable")
      record(
        yield* call("POST", "/api/v1/integrations/stripe/reconnect", { caller: admin, body: { venueId: otherVenue } })
      )
      stripe.setFailure(null)
      record(
        yield* call("POST", "/api/v1/integrations/stripe/api-key", {
          caller: admin,
          body: { venueId: otherVenue, apiKey: `${apiKey}x` }
        })
      )
      record(yield* call("GET", "/api/v1/integrations/", { token: `${jwtSecret}.${apiKey}.x` }))
      record(yield* call("GET", `/api/v1/integrations/stripe?venueId=${otherVenue}`, { caller: admin }))

      // The data key that sealed this API key, as KMS gives it back.
      const store = yield* ConnectionStore
      const keys = yield* KeyManagement
      const sealed = yield* store
        .secret(
          new SecretPlace({
            tenantId: TenantId.make(tenant),
            venueId: VenueId.make(otherVenue),
            provider: "stripe",
            field: "api_key"
          })
        )
        .pipe(Effect.map(Option.getOrThrow))
      const dataKeys = [Redacted.value(yield* keys.decrypt(sealed.wrappedKey, sealed.keyId))]

      const haystack = [
        ...logs,
        ...replies,
        JSON.stringify(spans.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]))
      ].join("\n")
      assert.isAbove(logs.length, 0, "logs were captured")
      const needles = [
        apiKey,
        jwtSecret,
        ...dataKeys.flatMap((k) => [Buffer.from(k).toString("base64"), Buffer.from(k).toString("hex")])
      ]
      for (const needle of needles) assert.notInclude(haystack, needle)
    })
  )
})
