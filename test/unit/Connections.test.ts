import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { MemoryConnectionStore } from "../../adapters/memory/MemoryConnectionStore.ts"
import { MemoryEventPublisher } from "../../adapters/memory/MemoryEventPublisher.ts"
import { MemoryProviderGateway, MemoryProviderGatewayControl } from "../../adapters/memory/MemoryProviderGateway.ts"
import { MemoryTokenStore } from "../../adapters/memory/MemoryTokenStore.ts"
import { Connections } from "../../application/Connections.ts"
import { NeedsReauth } from "../../application/NeedsReauth.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { UserId } from "../../domain/Ids.ts"
import { Principal } from "../../domain/Principal.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { EventPublisher } from "../../ports/EventPublisher.ts"
import { tenantA, venueA1, venueA2 } from "../support/Fixtures.ts"

const key = "sk_test_MemoryGateway0123456789"
const masterKey = `unit:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`

const App = Connections.layer.pipe(
  Layer.provideMerge(NeedsReauth.layer),
  Layer.provideMerge(Layer.mergeAll(MemoryTokenStore.layer, MemoryEventPublisher.layer)),
  Layer.provideMerge(MemoryConnectionStore.layer),
  Layer.provideMerge(
    EnvelopeCredentialVault.layer.pipe(Layer.provide(LocalKeyring.layerKeys(Redacted.make(masterKey))))
  ),
  Layer.provideMerge(MemoryProviderGateway.layer({ [key]: { accountId: "acct_mem", accountName: "Memory Hall" } }))
)

const principal = (role: Principal["role"], venueIds = [venueA1]) =>
  new Principal({ userId: UserId.make("u1"), tenantId: tenantA, venueIds, role })
const admin = principal("admin", [])

const place = new SecretPlace({ tenantId: tenantA, venueId: venueA1, provider: "stripe", field: "api_key" })

describe("Connections (in-memory adapters)", () => {
  it.effect("connects: validates first, then seals the key so that it opens only in its place", () =>
    Effect.gen(function* () {
      const connections = yield* Connections
      const view = yield* connections.connectApiKey(admin, {
        venueId: venueA1,
        provider: "stripe",
        apiKey: Redacted.make(key)
      })
      assert.strictEqual(view.connection.accountId, "acct_mem")
      assert.strictEqual(Option.getOrThrow(view.health).status, "healthy")
      const store = yield* ConnectionStore
      const vault = yield* CredentialVault
      const sealed = Option.getOrThrow(yield* store.secret(place))
      assert.strictEqual(Redacted.value(yield* vault.open(place, sealed)), key)
      const elsewhere = yield* vault.open(new SecretPlace({ ...place, venueId: venueA2 }), sealed).pipe(Effect.flip)
      assert.strictEqual(elsewhere._tag, "SecretUnreadable")
    }).pipe(Effect.provide(App))
  )

  it.effect("a refused or unreachable key stores nothing", () =>
    Effect.gen(function* () {
      const connections = yield* Connections
      const control = yield* MemoryProviderGatewayControl
      const store = yield* ConnectionStore
      const wrong = yield* connections
        .connectApiKey(admin, {
          venueId: venueA1,
          provider: "stripe",
          apiKey: Redacted.make("sk_test_Wrong000000000000")
        })
        .pipe(Effect.flip)
      assert.strictEqual(wrong._tag, "InvalidCredentials")
      yield* control.setUnavailable(true)
      const down = yield* connections
        .connectApiKey(admin, { venueId: venueA1, provider: "stripe", apiKey: Redacted.make(key) })
        .pipe(Effect.flip)
      assert.strictEqual(down._tag, "ProviderUnavailable")
      assert.isTrue(Option.isNone(yield* store.find(tenantA, venueA1, "stripe")))
      assert.isTrue(Option.isNone(yield* store.secret(place)))
    }).pipe(Effect.provide(App))
  )

  it.effect("only admins and the venue's own admins manage; viewers read", () =>
    Effect.gen(function* () {
      const connections = yield* Connections
      const request = { venueId: venueA1, provider: "stripe" as const, apiKey: Redacted.make(key) }
      assert.strictEqual(
        (yield* connections.connectApiKey(principal("viewer"), request).pipe(Effect.flip))._tag,
        "Forbidden"
      )
      assert.strictEqual(
        (yield* connections.connectApiKey(principal("venue_admin", [venueA2]), request).pipe(Effect.flip))._tag,
        "Forbidden"
      )
      yield* connections.connectApiKey(principal("venue_admin", [venueA1]), request)
      const seen = yield* connections.get(principal("viewer"), venueA1, "stripe")
      assert.strictEqual(seen.connection.status, "connected")
      const notTheirs = yield* connections.get(principal("viewer", [venueA2]), venueA1, "stripe").pipe(Effect.flip)
      assert.strictEqual(notTheirs._tag, "Forbidden")
    }).pipe(Effect.provide(App))
  )

  it.effect(
    "a revoked key turns reconnect into needs_reauth; a new key brings it back; disconnect drops the secret",
    () =>
      Effect.gen(function* () {
        const connections = yield* Connections
        const control = yield* MemoryProviderGatewayControl
        const store = yield* ConnectionStore
        yield* connections.connectApiKey(admin, { venueId: venueA1, provider: "stripe", apiKey: Redacted.make(key) })
        yield* control.revokeKey(key)
        const failed = yield* connections.reconnect(admin, venueA1, "stripe").pipe(Effect.flip)
        assert.strictEqual(failed._tag, "InvalidCredentials")
        const marked = Option.getOrThrow(yield* store.find(tenantA, venueA1, "stripe"))
        assert.strictEqual(marked.status, "needs_reauth")
        // Published like a refused refresh, and once: a second refusal finds it needs_reauth already.
        yield* connections.reconnect(admin, venueA1, "stripe").pipe(Effect.flip)
        const events = yield* (yield* EventPublisher).list(tenantA)
        assert.deepStrictEqual(
          events.map((e) => [e.type, e.connectionId, e.payload]),
          [
            [
              "connection.needs_reauth",
              marked.id,
              { provider: "stripe", venueId: venueA1, reason: "invalid_credentials", source: "reconnect" }
            ]
          ]
        )
        const fresh = "sk_test_MemoryGatewayRotated99"
        yield* control.addKey(fresh, { accountId: "acct_mem", accountName: "Memory Hall" })
        const back = yield* connections.replaceApiKey(admin, {
          venueId: venueA1,
          provider: "stripe",
          apiKey: Redacted.make(fresh)
        })
        assert.strictEqual(back.connection.status, "connected")
        yield* connections.disconnect(admin, venueA1, "stripe")
        assert.isTrue(Option.isNone(yield* store.secret(place)))
        const test = yield* connections.test(admin, venueA1, "stripe").pipe(Effect.flip)
        assert.strictEqual(test._tag, "Unprocessable")
      }).pipe(Effect.provide(App))
  )
})
