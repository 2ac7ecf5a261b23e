import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import {
  MemoryMarketingAudiences,
  MemoryMarketingAudiencesControl
} from "../../adapters/memory/MemoryMarketingAudiences.ts"
import { MailchimpAudiences } from "../../adapters/providers/MailchimpAudiences.ts"
import { type Audience, type MarketingAccess, MarketingAudiences } from "../../ports/MarketingAudiences.ts"
import { type FakeMailchimp, startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"

interface SeenWebhook {
  readonly id: string
  readonly listId: string
  readonly url: string
  readonly events: ReadonlyArray<string>
}

/** What the contract needs to steer each adapter's Mailchimp: the fake over the wire, or the in-memory account. */
class Harness extends Context.Service<
  Harness,
  {
    readonly audiences: ReadonlyArray<Audience>
    /** A fresh token that opens the account. */
    readonly grant: Effect.Effect<MarketingAccess>
    /** What the venue removing the app in Mailchimp does to a token. */
    readonly revoke: (access: MarketingAccess) => Effect.Effect<void>
    /** The same account, but Mailchimp cannot be reached. */
    readonly unreachable: (access: MarketingAccess) => Effect.Effect<MarketingAccess>
    readonly webhooks: Effect.Effect<ReadonlyArray<SeenWebhook>>
  }
>()("test/contract/MarketingAudiencesHarness") {}

/** A token from the fake's own OAuth flow, as the service gets one. */
const tokenFrom = async (fake: FakeMailchimp) => {
  const redirectUri = "https://integrations.example.test/api/v1/integrations/oauth/callback/mailchimp"
  const { code } = await fake.consent(
    `${fake.url}/oauth2/authorize?${new URLSearchParams({ response_type: "code", client_id: fake.clientId, redirect_uri: redirectUri, state: "s" })}`
  )
  const response = await fetch(`${fake.url}/oauth2/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      redirect_uri: redirectUri,
      code: code!
    })
  })
  return ((await response.json()) as { access_token: string }).access_token
}

const SdkHarness = Layer.effectContext(
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeMailchimp()),
      (f) => Effect.promise(() => f.close())
    )
    const harness = Harness.of({
      audiences: fake.audiences(),
      grant: Effect.promise(() => tokenFrom(fake)).pipe(
        Effect.map((token) => ({ accessToken: Redacted.make(token), dc: fake.dc, apiEndpoint: fake.url }))
      ),
      revoke: (access) => Effect.sync(() => fake.revokeToken(Redacted.value(access.accessToken))),
      // Port 9 (discard) refuses connections on loopback.
      unreachable: (access) => Effect.succeed({ ...access, apiEndpoint: "http://127.0.0.1:9" }),
      webhooks: Effect.sync(() =>
        fake.webhooks().map((w) => ({
          id: w.id,
          listId: w.list_id,
          url: w.url,
          events: Object.keys(w.events).filter((type) => w.events[type])
        }))
      )
    })
    return Context.make(Harness, harness).pipe(Context.add(MarketingAudiences, MailchimpAudiences.make("2 seconds")))
  })
)

const memoryAudiences = [
  { id: "5b3a7e9c21", name: "Box office newsletter" },
  { id: "a1f0c3d2e4", name: "Season members" }
]

const MemoryHarness = Layer.effectContext(
  Effect.gen(function* () {
    const control = yield* MemoryMarketingAudiencesControl
    return Context.make(
      Harness,
      Harness.of({
        audiences: memoryAudiences,
        grant: Effect.gen(function* () {
          const token = crypto.randomUUID()
          yield* control.grantToken(token)
          return { accessToken: Redacted.make(token), dc: "us19", apiEndpoint: undefined }
        }),
        revoke: (access) => control.revokeToken(Redacted.value(access.accessToken)),
        unreachable: (access) => Effect.as(control.setUnavailable(true), access),
        webhooks: Effect.map(control.webhooks, (all) =>
          all.map((w) => ({ id: w.id, listId: w.listId, url: Redacted.value(w.url), events: w.events }))
        )
      })
    )
  })
).pipe(Layer.provideMerge(MemoryMarketingAudiences.layer(memoryAudiences, [])))

const contract = (name: string, harness: Layer.Layer<MarketingAudiences | Harness>) =>
  layer(harness, { timeout: "30 seconds" })(`MarketingAudiences contract: ${name}`, (it) => {
    it.effect("finds the account's audiences by id, and nothing for an id the account does not have", () =>
      Effect.gen(function* () {
        const { audiences, grant } = yield* Harness
        const port = yield* MarketingAudiences
        const access = yield* grant
        for (const audience of audiences)
          assert.deepStrictEqual(yield* port.find(access, audience.id), Option.some(audience))
        assert.isTrue(Option.isNone(yield* port.find(access, "0000000000")))
      })
    )

    it.effect("registers a webhook on the audience with the URL and events asked for, and removes it", () =>
      Effect.gen(function* () {
        const { audiences, grant, webhooks } = yield* Harness
        const port = yield* MarketingAudiences
        const access = yield* grant
        const listId = audiences[1]!.id
        const url = `https://integrations.example.test/hook?endpoint=we_1&secret=${crypto.randomUUID()}`
        const id = yield* port.registerWebhook(access, listId, {
          url: Redacted.make(url),
          events: ["unsubscribe", "upemail"]
        })
        const registered = (yield* webhooks).filter((w) => w.id === id)
        assert.deepStrictEqual(registered, [{ id, listId, url, events: ["unsubscribe", "upemail"] }])
        yield* port.removeWebhook(access, listId, id)
        assert.isFalse((yield* webhooks).some((w) => w.id === id))
        yield* port.removeWebhook(access, listId, id)
      })
    )

    it.effect("a refused token is OAuthGrantRejected for every call", () =>
      Effect.gen(function* () {
        const { audiences, grant, revoke } = yield* Harness
        const port = yield* MarketingAudiences
        const access = yield* grant
        yield* revoke(access)
        const listId = audiences[0]!.id
        const failures = [
          yield* Effect.flip(port.find(access, listId)),
          yield* Effect.flip(
            port.registerWebhook(access, listId, { url: Redacted.make("https://x.test/"), events: [] })
          ),
          yield* Effect.flip(port.removeWebhook(access, listId, "0000000000"))
        ]
        for (const failure of failures) {
          assert.strictEqual(failure._tag, "OAuthGrantRejected")
          if (failure._tag === "OAuthGrantRejected") assert.strictEqual(failure.code, "invalid_token")
        }
      })
    )

    it.effect("Mailchimp out of reach is a retryable ProviderUnavailable", () =>
      Effect.gen(function* () {
        const { audiences, grant, unreachable } = yield* Harness
        const port = yield* MarketingAudiences
        const access = yield* unreachable(yield* grant)
        const failure = yield* Effect.flip(port.find(access, audiences[0]!.id))
        assert.strictEqual(failure._tag, "ProviderUnavailable")
        if (failure._tag === "ProviderUnavailable") assert.isTrue(failure.retryable)
      })
    )
  })

describe("MarketingAudiences contract", () => {
  contract("Mailchimp marketing SDK against the fake", SdkHarness)
  contract("memory", MemoryHarness)
})
