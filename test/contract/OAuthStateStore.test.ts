import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { MemoryOAuthStateStore } from "../../adapters/memory/MemoryOAuthStateStore.ts"
import { PostgresOAuthStateStore } from "../../adapters/postgres/PostgresOAuthStateStore.ts"
import { UserId } from "../../domain/Ids.ts"
import { type IssuedState, OAuthStateStore } from "../../ports/OAuthStateStore.ts"
import { tenantA, tenantB, venueA1, venueB1 } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

const state = (overrides: Partial<IssuedState> = {}): IssuedState => ({
  stateHash: crypto.getRandomValues(new Uint8Array(32)),
  tenantId: tenantA,
  venueId: venueA1,
  provider: "square",
  userId: UserId.make("user-1"),
  codeVerifier: Redacted.make("v".repeat(43)),
  redirectUri: "https://integrations.example.test/api/v1/integrations/oauth/callback/square",
  expiresAt: new Date(Date.now() + 600_000),
  ...overrides
})

const contract = (name: string, store: Layer.Layer<OAuthStateStore, unknown>) =>
  layer(store, { timeout: "30 seconds", excludeTestServices: true })(`OAuthStateStore: ${name}`, (it) => {
    it.effect("a state is consumed once, with its binding", () =>
      Effect.gen(function* () {
        const states = yield* OAuthStateStore
        const issued = state({ tenantId: tenantB, venueId: venueB1 })
        yield* states.issue(issued)
        const first = yield* states.consume(issued.stateHash, "square")
        assert.isTrue(Option.isSome(first))
        const binding = Option.getOrThrow(first)
        assert.strictEqual(binding.tenantId, tenantB)
        assert.strictEqual(binding.venueId, venueB1)
        assert.strictEqual(binding.userId, "user-1")
        assert.strictEqual(Redacted.value(binding.codeVerifier!), "v".repeat(43))
        assert.isTrue(Option.isNone(yield* states.consume(issued.stateHash, "square")))
      })
    )

    it.effect("another provider's state is refused and stays usable; unknown and expired states are refused", () =>
      Effect.gen(function* () {
        const states = yield* OAuthStateStore
        const issued = state({ codeVerifier: null })
        yield* states.issue(issued)
        assert.isTrue(Option.isNone(yield* states.consume(issued.stateHash, "quickbooks")))
        assert.isTrue(Option.isSome(yield* states.consume(issued.stateHash, "square")))
        assert.isTrue(Option.isNone(yield* states.consume(new Uint8Array(32), "square")))
        const expired = state({ expiresAt: new Date(Date.now() - 1000) })
        yield* states.issue(expired)
        assert.isTrue(Option.isNone(yield* states.consume(expired.stateHash, "square")))
      })
    )
  })

contract("memory", MemoryOAuthStateStore.layer)
contract("postgres", PostgresOAuthStateStore.layer.pipe(Layer.provide(TestDatabase)))
