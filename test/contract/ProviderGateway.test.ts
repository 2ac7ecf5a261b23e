import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, layer } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { MemoryProviderGateway, MemoryProviderGatewayControl } from "../../adapters/memory/MemoryProviderGateway.ts"
import { StripeGateway } from "../../adapters/providers/StripeGateway.ts"
import { ProviderGateway } from "../../ports/ProviderGateway.ts"
import { type FakeStripe, startFakeStripe } from "../sandbox/FakeStripe.ts"

/** What the contract needs to steer each adapter's provider: the fake Stripe, or the in-memory map. */
class Harness extends Context.Service<
  Harness,
  {
    readonly addKey: (key: string, accountName: string | null) => Effect.Effect<string>
    readonly revokeKey: (key: string) => Effect.Effect<void>
    readonly setUnavailable: (unavailable: boolean) => Effect.Effect<void>
    /** Requests that reached the provider so far. */
    readonly reached: Effect.Effect<number>
    readonly endpointIds: Effect.Effect<ReadonlyArray<string>>
  }
>()("test/contract/ProviderGatewayHarness") {}

class Fake extends Context.Service<Fake, FakeStripe>()("test/contract/ProviderGatewayFakeStripe") {}

const FakeLive = Layer.effect(
  Fake,
  Effect.acquireRelease(
    Effect.promise(() => startFakeStripe()),
    (fake) => Effect.promise(() => fake.close())
  )
)

const StripeHarness = Layer.effectContext(
  Effect.gen(function* () {
    const fake = yield* Fake
    const harness = Harness.of({
      addKey: (key, name) => Effect.sync(() => fake.addKey(key, { name }).accountId),
      revokeKey: (key) => Effect.sync(() => fake.revokeKey(key)),
      setUnavailable: (unavailable) => Effect.sync(() => fake.setFailure(unavailable ? "unavailable" : null)),
      reached: Effect.sync(() => fake.requests()),
      endpointIds: Effect.sync(() => fake.webhookEndpoints().map((e) => e.id))
    })
    const gateway = yield* Layer.build(
      StripeGateway.layer.pipe(
        Layer.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({ STRIPE_API_BASE_URL: fake.url, STRIPE_TIMEOUT: "300 millis" })
          )
        )
      )
    )
    return Context.add(gateway, Harness, harness).pipe(Context.add(Fake, fake))
  })
).pipe(Layer.provide(FakeLive))

const MemoryHarness = Layer.effectContext(
  Effect.gen(function* () {
    const control = yield* MemoryProviderGatewayControl
    let accounts = 0
    return Context.make(
      Harness,
      Harness.of({
        addKey: (key, accountName) =>
          Effect.gen(function* () {
            const accountId = `acct_memory${++accounts}`
            yield* control.addKey(key, { accountId, accountName })
            return accountId
          }),
        revokeKey: control.revokeKey,
        setUnavailable: control.setUnavailable,
        reached: control.calls,
        endpointIds: Effect.map(control.webhookEndpoints, (endpoints) => endpoints.map((e) => e.endpointId))
      })
    )
  })
).pipe(Layer.provideMerge(MemoryProviderGateway.layer()))

const freshKey = (prefix: string) => `${prefix}${crypto.randomUUID().replaceAll("-", "")}`

/** A fresh test secret key the fake Stripe accepts. */
const keyOnFake = Effect.gen(function* () {
  const fake = yield* Fake
  const key = freshKey("sk_test_")
  fake.addKey(key)
  return { fake, key }
})

/** A fresh exporter per use: shutting the SDK down stops its exporter for good. */
const tracing = () => {
  const exporter = new InMemorySpanExporter()
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "provider-gateway-contract" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))
  return { exporter, layer }
}

/** The port's promise, checked once per adapter. */
const contract = (name: string, harnessLayer: Layer.Layer<ProviderGateway | Harness>) =>
  layer(harnessLayer, { timeout: "30 seconds" })(`ProviderGateway contract: ${name}`, (it) => {
    it.effect("a valid secret key opens its account", () =>
      Effect.gen(function* () {
        const { addKey } = yield* Harness
        const gateway = yield* ProviderGateway
        const key = freshKey("sk_test_")
        const accountId = yield* addKey(key, "Riverside Hall")
        const account = yield* gateway.verifyApiKey("stripe", Redacted.make(key))
        assert.strictEqual(account.accountId, accountId)
        assert.strictEqual(account.accountName, "Riverside Hall")
        assert.isFalse(account.livemode)
      })
    )

    it.effect("livemode follows the key, restricted keys included", () =>
      Effect.gen(function* () {
        const { addKey } = yield* Harness
        const gateway = yield* ProviderGateway
        const live = freshKey("rk_live_")
        yield* addKey(live, null)
        const account = yield* gateway.verifyApiKey("stripe", Redacted.make(live))
        assert.isTrue(account.livemode)
        assert.isNull(account.accountName)
      })
    )

    it.effect("a wrong or revoked key is InvalidCredentials on the apiKey field", () =>
      Effect.gen(function* () {
        const { addKey, revokeKey } = yield* Harness
        const gateway = yield* ProviderGateway
        const wrong = yield* gateway.verifyApiKey("stripe", Redacted.make(freshKey("sk_test_"))).pipe(Effect.flip)
        assert.strictEqual(wrong._tag, "InvalidCredentials")
        assert.deepInclude(wrong, { provider: "stripe", field: "apiKey" })
        const revoked = freshKey("sk_test_")
        yield* addKey(revoked, "Gone Venue")
        yield* revokeKey(revoked)
        const error = yield* gateway.verifyApiKey("stripe", Redacted.make(revoked)).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidCredentials")
      })
    )

    it.effect("a publishable key or garbage is Unprocessable and never reaches the provider", () =>
      Effect.gen(function* () {
        const { reached } = yield* Harness
        const gateway = yield* ProviderGateway
        const before = yield* reached
        for (const key of [freshKey("pk_test_"), freshKey("pk_live_"), "hello", "", "sk_test_", "sk_prod_abcdefghij"]) {
          const error = yield* gateway.verifyApiKey("stripe", Redacted.make(key)).pipe(Effect.flip)
          assert.strictEqual(error._tag, "Unprocessable")
          assert.deepInclude(error, { field: "apiKey" })
        }
        assert.strictEqual(yield* reached, before)
      })
    )

    it.effect("OAuth providers do not take API keys", () =>
      Effect.gen(function* () {
        const { reached } = yield* Harness
        const gateway = yield* ProviderGateway
        const before = yield* reached
        for (const provider of ["square", "mailchimp", "quickbooks"] as const) {
          const error = yield* gateway.verifyApiKey(provider, Redacted.make(freshKey("sk_test_"))).pipe(Effect.flip)
          assert.deepInclude(error, {
            _tag: "Unprocessable",
            field: "provider",
            message: `${provider} connects through OAuth, not an API key`
          })
        }
        assert.strictEqual(yield* reached, before)
      })
    )

    it.effect("an unreachable provider is a retryable ProviderUnavailable", () =>
      Effect.gen(function* () {
        const { addKey, setUnavailable } = yield* Harness
        const gateway = yield* ProviderGateway
        const key = freshKey("sk_test_")
        yield* addKey(key, "Down Venue")
        yield* setUnavailable(true)
        const error = yield* gateway
          .verifyApiKey("stripe", Redacted.make(key))
          .pipe(Effect.flip, Effect.ensuring(setUnavailable(false)))
        assert.strictEqual(error._tag, "ProviderUnavailable")
        assert.deepInclude(error, { provider: "stripe", retryable: true })
        const account = yield* gateway.verifyApiKey("stripe", Redacted.make(key))
        assert.strictEqual(account.accountName, "Down Venue")
      })
    )

    it.effect("registers a webhook endpoint with a one-time secret and deletes it idempotently", () =>
      Effect.gen(function* () {
        const { addKey, endpointIds } = yield* Harness
        const gateway = yield* ProviderGateway
        const key = Redacted.make(freshKey("sk_test_"))
        yield* addKey(Redacted.value(key), "Hooked Venue")
        const endpoint = yield* gateway.registerWebhookEndpoint("stripe", key, {
          url: "https://integrations.example.com/webhooks/stripe",
          events: ["customer.created", "charge.succeeded"]
        })
        assert.match(endpoint.endpointId, /^we_/)
        assert.isTrue(Redacted.isRedacted(endpoint.secret))
        assert.match(Redacted.value(endpoint.secret), /^whsec_/)
        assert.include(yield* endpointIds, endpoint.endpointId)
        yield* gateway.deleteWebhookEndpoint("stripe", key, endpoint.endpointId)
        assert.notInclude(yield* endpointIds, endpoint.endpointId)
        yield* gateway.deleteWebhookEndpoint("stripe", key, endpoint.endpointId)
        const denied = yield* gateway
          .registerWebhookEndpoint("stripe", Redacted.make(freshKey("sk_test_")), {
            url: "https://x.example",
            events: ["*"]
          })
          .pipe(Effect.flip)
        assert.strictEqual(denied._tag, "InvalidCredentials")
      })
    )

    it.effect("no error or span carries the key", () => {
      const { exporter, layer: Tracing } = tracing()
      return Effect.gen(function* () {
        const { addKey, setUnavailable } = yield* Harness
        const gateway = yield* ProviderGateway
        const valid = freshKey("sk_test_")
        yield* addKey(valid, "Secretive Venue")
        const wrong = freshKey("sk_test_")
        const publishable = freshKey("pk_test_")
        const down = freshKey("sk_test_")
        yield* addKey(down, null)
        const errors = [
          yield* gateway.verifyApiKey("stripe", Redacted.make(wrong)).pipe(Effect.flip),
          yield* gateway.verifyApiKey("stripe", Redacted.make(publishable)).pipe(Effect.flip),
          yield* gateway.verifyApiKey("square", Redacted.make(valid)).pipe(Effect.flip),
          yield* setUnavailable(true).pipe(
            Effect.andThen(gateway.verifyApiKey("stripe", Redacted.make(down))),
            Effect.flip,
            Effect.ensuring(setUnavailable(false))
          )
        ]
        yield* gateway.verifyApiKey("stripe", Redacted.make(valid))
        const spans = exporter.getFinishedSpans()
        assert.isAtLeast(spans.length, 5)
        const spanText = JSON.stringify(
          spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status }))
        )
        for (const key of [valid, wrong, publishable, down]) {
          const secretPart = key.slice(8)
          for (const error of errors) {
            assert.notInclude(String(error), secretPart)
            assert.notInclude(JSON.stringify(error), secretPart)
            assert.notInclude(error.message, key.slice(-4))
          }
          assert.notInclude(spanText, secretPart)
        }
        assert.include(spanText, "verifyApiKey")
      }).pipe(Effect.provide(Tracing))
    })
  })

contract("StripeGateway via the stripe SDK against FakeStripe", StripeHarness.pipe(Layer.orDie))
contract("MemoryProviderGateway", MemoryHarness)

describe("StripeGateway specifics", () => {
  layer(StripeHarness.pipe(Layer.orDie), { timeout: "30 seconds" })((it) => {
    it.effect("a restricted key without account access is InvalidCredentials saying it lacks permission", () =>
      Effect.gen(function* () {
        const fake = yield* Fake
        const gateway = yield* ProviderGateway
        const key = freshKey("rk_test_")
        fake.addKey(key, { allowedPaths: ["/v1/balance"] })
        const error = yield* gateway.verifyApiKey("stripe", Redacted.make(key)).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidCredentials")
        assert.include(error.message, "lacks permission")
      })
    )

    it.effect("a rate limit or a timeout is a retryable ProviderUnavailable", () =>
      Effect.gen(function* () {
        const { fake, key } = yield* keyOnFake
        const gateway = yield* ProviderGateway
        for (const failure of ["rate_limited", "slow"] as const) {
          fake.setFailure(failure, { delayMs: 2_000 })
          const error = yield* gateway
            .verifyApiKey("stripe", Redacted.make(key))
            .pipe(Effect.flip, Effect.ensuring(Effect.sync(() => fake.setFailure(null))))
          assert.strictEqual(error._tag, "ProviderUnavailable")
          assert.deepInclude(error, { retryable: true })
        }
      })
    )

    it.effect("verifies with one GET /v1/account carrying the pinned Stripe-Version", () =>
      Effect.gen(function* () {
        const { fake, key } = yield* keyOnFake
        const gateway = yield* ProviderGateway
        const before = fake.requests("/v1/account")
        yield* gateway.verifyApiKey("stripe", Redacted.make(` ${key}\n`))
        assert.strictEqual(fake.requests("/v1/account"), before + 1)
        const last = fake.requestLog().at(-1)!
        assert.strictEqual(last.method, "GET")
        assert.match(last.stripeVersion ?? "", /^\d{4}-\d{2}-\d{2}\./)
      })
    )

    it.effect("a URL Stripe refuses is Unprocessable on its field", () =>
      Effect.gen(function* () {
        const { key } = yield* keyOnFake
        const gateway = yield* ProviderGateway
        const error = yield* gateway
          .registerWebhookEndpoint("stripe", Redacted.make(key), { url: "not a url", events: ["*"] })
          .pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "Unprocessable", field: "url" })
      })
    )
  })
})
