import { createHmac } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { makeWebhookTestApp, webhookSecrets as s } from "../support/WebhookTestApp.ts"

const utf8 = new TextEncoder()

const post = (raw: Uint8Array, signature: string) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/stripe`).pipe(
        HttpClientRequest.setHeaders({ "stripe-signature": signature }),
        HttpClientRequest.bodyUint8Array(raw, "application/json")
      )
    )
    return { status: response.status, retryAfter: response.headers["retry-after"] }
  }).pipe(Effect.orDie)

const event = (account: string) =>
  utf8.encode(
    JSON.stringify({ id: `evt_${crypto.randomUUID()}`, object: "event", type: "customer.updated", account, data: {} })
  )

const signed = (raw: Uint8Array) => {
  const t = Math.floor(Date.now() / 1000)
  return post(raw, `t=${t},v1=${createHmac("sha256", s.stripe).update(`${t}.`).update(raw).digest("hex")}`)
}

layer(makeWebhookTestApp({ config: { WEBHOOK_RATE_LIMIT: "3", WEBHOOK_RATE_WINDOW: "1 minute" } }), {
  timeout: "60 seconds",
  excludeTestServices: true
})("webhook rate limit per provider account", (it) => {
  it.effect("past the account's limit: 429 with Retry-After; other accounts and unsigned requests unaffected", () =>
    Effect.gen(function* () {
      // Unsigned requests naming the account spend none of its budget.
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* post(event("acct_busy"), "t=1,v1=00")).status, 401)
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* signed(event("acct_busy"))).status, 200)
      const refused = yield* signed(event("acct_busy"))
      assert.strictEqual(refused.status, 429)
      assert.isAtLeast(Number(refused.retryAfter), 1)
      assert.isAtMost(Number(refused.retryAfter), 60)
      assert.strictEqual((yield* signed(event("acct_quiet"))).status, 200, "another account has its own budget")
    })
  )
})
