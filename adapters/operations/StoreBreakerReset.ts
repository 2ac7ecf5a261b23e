import { Clock, Duration, Effect, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { BreakerReset, BreakerResetFailed } from "../../ports/operations/BreakerReset.ts"

/** A clock `aheadMillis` in the future: the in-process store reads the time from the fiber's clock. */
const clockAhead = (clock: Clock.Clock, aheadMillis: number): Clock.Clock => ({
  ...clock,
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + aheadMillis,
  currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + aheadMillis),
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + BigInt(aheadMillis) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + BigInt(aheadMillis) * 1_000_000n)
})

/**
 * Reset through the in-process `CircuitBreakerStore`'s public operations: an open circuit is admitted as of the end
 * of its open time (a clock that far ahead, for these two calls only), which makes the call its half-open probe,
 * and the probe is recorded a success, which closes it. A closed circuit records a success, which clears its
 * failure streak. Calls admitted before the reset cannot reopen it: their permits belong to an older generation.
 */
export const StoreBreakerReset = Layer.effect(
  BreakerReset,
  Effect.gen(function* () {
    const store = yield* CircuitBreaker.CircuitBreakerStore
    const fail = (key: string) => (e: CircuitBreaker.CircuitBreakerError) =>
      new BreakerResetFailed({ key, message: e.message })
    return BreakerReset.of({
      reset: Effect.fn("BreakerReset.reset")(function* (key: string) {
        const state = yield* store.state(key).pipe(Effect.mapError(fail(key)))
        const ahead = state._tag === "Open" ? Duration.toMillis(state.retryAfter) + 1 : 0
        const clock = yield* Clock.Clock
        yield* Effect.gen(function* () {
          const permit = yield* store.admit(key)
          yield* store.record({
            key,
            generation: permit.generation,
            outcome: "Success",
            // Neither is read when a success is recorded.
            tripPolicy: CircuitBreaker.consecutive(1),
            openFor: Duration.zero
          })
        }).pipe(Effect.scoped, Effect.provideService(Clock.Clock, clockAhead(clock, ahead)), Effect.mapError(fail(key)))
      })
    })
  })
)
