import { Effect, Iterable, RcMap, Semaphore } from "effect"

/**
 * One mutex per key, kept only while someone holds or waits for it: the first caller of a key creates its entry and
 * the last one to leave removes it, so the map is as large as the keys in use, not every key ever seen.
 */
export const makeKeyedLock = <K>() =>
  Effect.gen(function* () {
    const locks = yield* RcMap.make({ lookup: (_: K) => Semaphore.make(1) })
    return {
      /** Runs `self` holding `key`'s mutex; callers of one key run one at a time, other keys are not delayed. */
      withLock:
        (key: K) =>
        <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
          Effect.scoped(Effect.flatMap(RcMap.get(locks, key), (lock) => lock.withPermits(1)(self))),
      /** Keys whose mutex is held or awaited right now. */
      size: Effect.map(RcMap.keys(locks), Iterable.size)
    }
  })
