import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import Stripe from "stripe"
import { type FakeStripe, startFakeStripe } from "../sandbox/FakeStripe.ts"

/** The fake is only useful if the official SDK cannot tell it from Stripe: every test here goes through `stripe`. */
describe("FakeStripe with the official stripe SDK", () => {
  let fake: FakeStripe
  const client = (key: string, maxNetworkRetries = 0) =>
    new Stripe(key, { host: "127.0.0.1", port: fake.port, protocol: "http", maxNetworkRetries, timeout: 2_000 })
  const rejection = async (promise: Promise<unknown>) => {
    try {
      await promise
    } catch (error) {
      return error
    }
    assert.fail("expected the SDK call to fail")
  }

  beforeAll(async () => {
    fake = await startFakeStripe()
  })
  afterAll(() => fake.close())

  it("serves the account of the key, with the headers the SDK sends", async () => {
    const { accountId } = fake.addKey("sk_test_accountkey0001", { name: "Riverside Hall" })
    const account = await client("sk_test_accountkey0001").accounts.retrieveCurrent()
    assert.strictEqual(account.id, accountId)
    assert.match(account.id, /^acct_/)
    assert.strictEqual(account.object, "account")
    assert.strictEqual(account.settings?.dashboard.display_name, "Riverside Hall")
    assert.strictEqual(account.business_profile?.name, "Riverside Hall")
    const last = fake.requestLog().at(-1)!
    assert.strictEqual(last.path, "/v1/account")
    assert.isString(last.stripeVersion)
    const balance = await client("sk_test_accountkey0001").balance.retrieve()
    assert.strictEqual(balance.object, "balance")
  })

  it("answers a wrong key with 401 and Stripe's masked message", async () => {
    const error = await rejection(client("sk_test_wrongwrongwrong9876").accounts.retrieveCurrent())
    assert.instanceOf(error, Stripe.errors.StripeAuthenticationError)
    const auth = error as InstanceType<typeof Stripe.errors.StripeAuthenticationError>
    assert.strictEqual(auth.statusCode, 401)
    assert.strictEqual(auth.type, "StripeAuthenticationError")
    assert.match(auth.message, /^Invalid API Key provided: sk_test_\*+9876$/)
    assert.notInclude(auth.message, "wrongwrong")
  })

  it("limits a restricted key to its paths with a 403 permission error", async () => {
    fake.addKey("rk_test_restricted0001", { allowedPaths: ["/v1/balance"] })
    const balance = await client("rk_test_restricted0001").balance.retrieve()
    assert.strictEqual(balance.object, "balance")
    const error = await rejection(client("rk_test_restricted0001").accounts.retrieveCurrent())
    assert.instanceOf(error, Stripe.errors.StripePermissionError)
  })

  it("pages customers newest first with limit, starting_after and has_more", async () => {
    const { accountId } = fake.addKey("sk_test_pagination0001")
    const created = Array.from({ length: 7 }, (_, i) => fake.addCustomer(accountId, { email: `c${i}@example.com` }))
    const stripe = client("sk_test_pagination0001")
    const first = await stripe.customers.list({ limit: 3 })
    assert.strictEqual(first.object, "list")
    assert.isTrue(first.has_more)
    assert.deepStrictEqual(
      first.data.map((c) => c.email),
      ["c6@example.com", "c5@example.com", "c4@example.com"]
    )
    const second = await stripe.customers.list({ limit: 3, starting_after: first.data.at(-1)!.id })
    assert.deepStrictEqual(
      second.data.map((c) => c.email),
      ["c3@example.com", "c2@example.com", "c1@example.com"]
    )
    const all = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 })
    assert.deepStrictEqual(
      all.map((c) => c.id),
      created.map((c) => c.id as string).reverse()
    )
    const error = await rejection(stripe.customers.list({ limit: 500 }))
    assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
  })

  it("creates customers from form-encoded bodies, metadata included", async () => {
    fake.addKey("sk_test_formbodies0001")
    const stripe = client("sk_test_formbodies0001")
    const customer = await stripe.customers.create({ email: "ada@example.com", metadata: { venue: "v1" } })
    assert.strictEqual(customer.email, "ada@example.com")
    assert.deepStrictEqual(customer.metadata, { venue: "v1" })
    const fetched = await stripe.customers.retrieve(customer.id)
    assert.strictEqual(fetched.id, customer.id)
    assert.strictEqual(fake.requestLog().at(-2)?.contentType, "application/x-www-form-urlencoded")
  })

  it("creates webhook endpoints with a secret shown once, and deletes them", async () => {
    const { accountId } = fake.addKey("sk_test_webhooks00001")
    const stripe = client("sk_test_webhooks00001")
    const endpoint = await stripe.webhookEndpoints.create({
      url: "https://hooks.example.com/webhooks/stripe",
      enabled_events: ["customer.created", "charge.succeeded"]
    })
    assert.match(endpoint.id, /^we_/)
    assert.match(endpoint.secret ?? "", /^whsec_/)
    assert.deepStrictEqual(endpoint.enabled_events, ["customer.created", "charge.succeeded"])
    assert.strictEqual(endpoint.url, "https://hooks.example.com/webhooks/stripe")
    const read = await stripe.webhookEndpoints.retrieve(endpoint.id)
    assert.isUndefined(read.secret)
    assert.strictEqual(fake.webhookEndpoints(accountId)[0]?.secret, endpoint.secret)
    const deleted = await stripe.webhookEndpoints.del(endpoint.id)
    assert.isTrue(deleted.deleted)
    assert.lengthOf(fake.webhookEndpoints(accountId), 0)
    const missing = await rejection(stripe.webhookEndpoints.del(endpoint.id))
    assert.instanceOf(missing, Stripe.errors.StripeInvalidRequestError)
    assert.strictEqual((missing as Stripe.errors.StripeError).statusCode, 404)
    const invalid = await rejection(stripe.webhookEndpoints.create({ url: "", enabled_events: ["*"] }))
    assert.strictEqual((invalid as Stripe.errors.StripeError).param, "url")
  })

  it("replays a POST with the same Idempotency-Key and refuses it with other parameters", async () => {
    const { accountId } = fake.addKey("sk_test_idempotent001")
    const stripe = client("sk_test_idempotent001")
    const params = { url: "https://hooks.example.com/a", enabled_events: ["*" as const] }
    const first = await stripe.webhookEndpoints.create(params, { idempotencyKey: "idem-1" })
    const again = await stripe.webhookEndpoints.create(params, { idempotencyKey: "idem-1" })
    assert.strictEqual(again.id, first.id)
    assert.lengthOf(fake.webhookEndpoints(accountId), 1)
    const error = await rejection(
      stripe.webhookEndpoints.create({ ...params, url: "https://hooks.example.com/b" }, { idempotencyKey: "idem-1" })
    )
    assert.instanceOf(error, Stripe.errors.StripeIdempotencyError)
  })

  it("answers unknown paths with Stripe's 404", async () => {
    fake.addKey("sk_test_unknownpath01")
    const error = await rejection(client("sk_test_unknownpath01").rawRequest("GET", "/v1/nothing_here"))
    assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
    assert.match((error as Error).message, /^Unrecognized request URL \(GET: \/v1\/nothing_here\)/)
  })

  it("fails on demand as unavailable, rate limited or slow, and counts every request", async () => {
    fake.addKey("sk_test_failuremodes1")
    const stripe = client("sk_test_failuremodes1")
    const before = fake.requests("/v1/balance")
    fake.setFailure("unavailable")
    assert.instanceOf(await rejection(stripe.balance.retrieve()), Stripe.errors.StripeAPIError)
    fake.setFailure("rate_limited")
    assert.instanceOf(await rejection(stripe.balance.retrieve()), Stripe.errors.StripeRateLimitError)
    fake.setFailure("slow", { delayMs: 1_000 })
    const slow = new Stripe("sk_test_failuremodes1", {
      host: "127.0.0.1",
      port: fake.port,
      protocol: "http",
      maxNetworkRetries: 0,
      timeout: 100
    })
    assert.instanceOf(await rejection(slow.balance.retrieve()), Stripe.errors.StripeConnectionError)
    fake.setFailure(null)
    assert.strictEqual((await stripe.balance.retrieve()).object, "balance")
    assert.strictEqual(fake.requests("/v1/balance") - before, 4)
  })
})
