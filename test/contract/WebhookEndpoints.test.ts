import { assert, describe, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { VenueId } from "../../domain/Ids.ts"
import { type WebhookEndpoint, WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import { connection, tenantA, tenantB } from "../support/Fixtures.ts"
import { memoryWebhooks, postgresWebhooks, WebhookRouting, type WebhookStack } from "./WebhookRouting.ts"

/** A Stripe connection of a fresh venue, known to routing, and an endpoint for it. */
const connected = (tenantId = tenantA) =>
  Effect.gen(function* () {
    const c = connection(tenantId, VenueId.make(crypto.randomUUID()))
    yield* (yield* WebhookRouting).connection(c)
    const endpoint: WebhookEndpoint = {
      tenantId,
      connectionId: c.id,
      provider: "stripe",
      publicId: `we_${crypto.randomUUID()}`,
      url: "https://integrations.example.test/api/v1/integrations/webhooks/stripe?endpoint=x",
      providerEndpointId: `we_provider_${crypto.randomUUID()}`,
      events: ["customer.created", "charge.refunded"]
    }
    return { c, endpoint }
  })

const plain = (e: WebhookEndpoint) => ({ ...e, events: [...e.events] })

const contract = (name: string, stack: WebhookStack) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`WebhookEndpoints contract: ${name}`, (it) => {
    it.effect("saves an endpoint and finds it for its connection", () =>
      Effect.gen(function* () {
        const endpoints = yield* WebhookEndpoints
        const { c, endpoint } = yield* connected()
        assert.isTrue(Option.isNone(yield* endpoints.find(tenantA, c.id)))
        yield* endpoints.save(endpoint)
        const found = yield* endpoints.find(tenantA, c.id).pipe(Effect.map(Option.getOrThrow))
        assert.deepStrictEqual(plain(found), plain(endpoint))
      })
    )

    it.effect("one endpoint per connection: saving again replaces it", () =>
      Effect.gen(function* () {
        const endpoints = yield* WebhookEndpoints
        const { c, endpoint } = yield* connected()
        yield* endpoints.save(endpoint)
        const next = {
          ...endpoint,
          publicId: `we_${crypto.randomUUID()}`,
          url: "https://other.example.test/",
          events: []
        }
        yield* endpoints.save(next)
        const found = yield* endpoints.find(tenantA, c.id).pipe(Effect.map(Option.getOrThrow))
        assert.deepStrictEqual(plain(found), plain(next))
      })
    )

    it.effect("another tenant neither finds nor removes it", () =>
      Effect.gen(function* () {
        const endpoints = yield* WebhookEndpoints
        const { c, endpoint } = yield* connected(tenantB)
        yield* endpoints.save(endpoint)
        assert.isTrue(Option.isNone(yield* endpoints.find(tenantA, c.id)))
        yield* endpoints.remove(tenantA, c.id)
        assert.isTrue(Option.isSome(yield* endpoints.find(tenantB, c.id)))
      })
    )

    it.effect("remove deletes it; removing nothing is fine", () =>
      Effect.gen(function* () {
        const endpoints = yield* WebhookEndpoints
        const { c, endpoint } = yield* connected()
        yield* endpoints.save(endpoint)
        yield* endpoints.remove(tenantA, c.id)
        assert.isTrue(Option.isNone(yield* endpoints.find(tenantA, c.id)))
        yield* endpoints.remove(tenantA, c.id)
      })
    )

    it.effect("a public id belongs to one connection: another connection cannot take it", () =>
      Effect.gen(function* () {
        const endpoints = yield* WebhookEndpoints
        const first = yield* connected()
        const second = yield* connected()
        yield* endpoints.save(first.endpoint)
        const taken = yield* Effect.flip(endpoints.save({ ...second.endpoint, publicId: first.endpoint.publicId }))
        assert.strictEqual(taken._tag, "StoreUnavailable")
        assert.isTrue(Option.isNone(yield* endpoints.find(tenantA, second.c.id)))
        const kept = yield* endpoints.find(tenantA, first.c.id).pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(kept.publicId, first.endpoint.publicId)
      })
    )
  })

describe("WebhookEndpoints contract", () => {
  contract("memory", memoryWebhooks)
  contract("postgres", postgresWebhooks)
})
