import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { makeKeyedLock } from "../../application/KeyedLock.ts"

describe("KeyedLock (TokenVault's per-connection mutex)", () => {
  it.effect("holds an entry only while a key is in use: 1,000 connections leave nothing behind", () =>
    Effect.gen(function* () {
      const lock = yield* makeKeyedLock<string>()
      for (let i = 0; i < 1000; i++) {
        const inside = yield* lock.withLock(`connection-${i}`)(lock.size)
        assert.strictEqual(inside, 1)
      }
      assert.strictEqual(yield* lock.size, 0)

      const release = yield* Deferred.make<void>()
      const entered = yield* Ref.make(0)
      const allInside = yield* Deferred.make<void>()
      const enter = Ref.updateAndGet(entered, (n) => n + 1).pipe(
        Effect.tap((n) => (n === 200 ? Deferred.succeed(allInside, undefined) : Effect.void))
      )
      const fibers = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => `busy-${i}`),
        (key) => Effect.forkChild(lock.withLock(key)(enter.pipe(Effect.andThen(Deferred.await(release)))))
      )
      yield* Deferred.await(allInside)
      assert.strictEqual(yield* lock.size, 200)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.joinAll(fibers)
      assert.strictEqual(yield* lock.size, 0)
    })
  )

  it.effect("callers of one key run one at a time; another key is not delayed", () =>
    Effect.gen(function* () {
      const lock = yield* makeKeyedLock<string>()
      const inside = yield* Ref.make(0)
      const most = yield* Ref.make(0)
      const critical = Effect.gen(function* () {
        const now = yield* Ref.updateAndGet(inside, (n) => n + 1)
        yield* Ref.update(most, (m) => Math.max(m, now))
        yield* Effect.yieldNow
        yield* Ref.update(inside, (n) => n - 1)
      })
      yield* Effect.forEach(Array.from({ length: 50 }), () => lock.withLock("a")(critical), {
        concurrency: "unbounded"
      })
      assert.strictEqual(yield* Ref.get(most), 1)

      const held = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(
        lock.withLock("a")(Deferred.succeed(entered, undefined).pipe(Effect.andThen(Deferred.await(held))))
      )
      yield* Deferred.await(entered)
      assert.strictEqual(yield* lock.withLock("b")(Effect.succeed("b ran")), "b ran")
      yield* Deferred.succeed(held, undefined)
      yield* Fiber.join(holder)
    })
  )

  it.effect("a waiter interrupted while queued leaves no entry behind", () =>
    Effect.gen(function* () {
      const lock = yield* makeKeyedLock<string>()
      const held = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(
        lock.withLock("a")(Deferred.succeed(entered, undefined).pipe(Effect.andThen(Deferred.await(held))))
      )
      yield* Deferred.await(entered)
      const ran = yield* Ref.make(false)
      const waiter = yield* Effect.forkChild(lock.withLock("a")(Ref.set(ran, true)))
      yield* Effect.repeat(Effect.yieldNow, { times: 10 })
      yield* Fiber.interrupt(waiter)
      assert.isFalse(yield* Ref.get(ran), "the waiter never got in while the lock was held")
      assert.strictEqual(yield* lock.size, 1)
      yield* Deferred.succeed(held, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(yield* lock.size, 0)
    })
  )
})
