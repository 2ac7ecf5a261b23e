import { Clock, Effect, Layer, Option } from "effect"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { type IssuedState, OAuthStateStore } from "../../ports/OAuthStateStore.ts"

const key = (hash: Uint8Array) => Buffer.from(hash).toString("hex")

/** States in process memory; consuming one is a single synchronous step, so it works once. */
export const MemoryOAuthStateStore = {
  layer: Layer.sync(OAuthStateStore, () => {
    const states = new Map<string, IssuedState>()
    return OAuthStateStore.of({
      issue: (state) =>
        Effect.sync(() => {
          states.set(key(state.stateHash), state)
        }).pipe(Effect.withSpan("MemoryOAuthStateStore.issue")),
      consume: (stateHash: Uint8Array, provider: OAuthProviderName) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const found = states.get(key(stateHash))
          if (found === undefined || found.provider !== provider || found.expiresAt.getTime() <= now)
            return Option.none()
          states.delete(key(stateHash))
          const { stateHash: _, expiresAt: __, ...binding } = found
          return Option.some(binding)
        }).pipe(Effect.withSpan("MemoryOAuthStateStore.consume"))
    })
  })
}
