import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, TestApp } from "../support/TestApp.ts"

const receivers = {
  stripe: { contentType: "application/json", header: "stripe-signature" },
  square: { contentType: "application/json", header: "x-square-hmacsha256-signature" },
  quickbooks: { contentType: "application/json", header: "intuit-signature" },
  mailchimp: { contentType: "application/x-www-form-urlencoded", query: ["endpoint", "secret"] }
} as const

layer(TestApp, { timeout: "60 seconds" })("the OpenAPI document", (it) => {
  it.effect("lists the four webhook receivers (raw body, signature header) and Mailchimp's validation GET", () =>
    Effect.gen(function* () {
      const { status, body } = yield* call("GET", "/openapi.json")
      assert.strictEqual(status, 200)
      for (const [provider, expected] of Object.entries(receivers)) {
        const path = body.paths[`/api/v1/integrations/webhooks/${provider}`]
        assert.isDefined(path?.post, `POST /webhooks/${provider} is missing`)
        const post = path.post
        assert.deepStrictEqual(Object.keys(post.requestBody.content), [expected.contentType], provider)
        assert.deepStrictEqual(post.requestBody.content[expected.contentType].schema, {
          type: "string",
          format: "binary"
        })
        const parameters: ReadonlyArray<{ name: string; in: string; required: boolean }> = post.parameters
        if ("header" in expected)
          assert.isTrue(
            parameters.some((p) => p.in === "header" && p.name === expected.header && p.required),
            `${provider}: ${expected.header}`
          )
        else
          for (const name of expected.query)
            assert.isTrue(
              parameters.some((p) => p.in === "query" && p.name === name && p.required),
              `${provider}: ?${name}=`
            )
        assert.deepStrictEqual(post.security, [], `${provider} takes no bearer token`)
        assert.includeMembers(Object.keys(post.responses), ["200", "400", "401", "413", "503"], provider)
      }
      assert.isDefined(body.paths["/api/v1/integrations/webhooks/mailchimp"].get, "Mailchimp's validation GET")
      // The docs page reads the same document.
      const docs = yield* call("GET", "/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.text, "webhookReceive.stripe")
    })
  )

  it.effect("the declared receivers are still the raw routes: no schema decoding, same answers", () =>
    Effect.gen(function* () {
      // Without a signature: 401 with an empty body (HttpApi decoding would answer 400 naming the header).
      const unsigned = yield* call("POST", "/api/v1/integrations/webhooks/stripe", {
        headers: { "content-type": "application/json" },
        body: { id: "evt_1", type: "account.updated" }
      })
      assert.strictEqual(unsigned.status, 401)
      assert.strictEqual(unsigned.text, "")
      const wrongSecret = yield* call("POST", "/api/v1/integrations/webhooks/mailchimp?secret=nope", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "type=unsubscribe"
      })
      assert.strictEqual(wrongSecret.status, 401)
      assert.strictEqual(wrongSecret.text, "")
      const validation = yield* call("GET", "/api/v1/integrations/webhooks/mailchimp")
      assert.strictEqual(validation.status, 200)
      const unknown = yield* call("POST", "/api/v1/integrations/webhooks/paypal", { body: {} })
      assert.strictEqual(unknown.status, 404)
    })
  )
})
