import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, Queue, Redacted, Schedule, Schema } from "effect"
import { PersistedQueue, Redis } from "effect/persistence"
import { PostgresQueueStore } from "../../adapters/postgres/PostgresQueueStore.ts"
import { IoRedis } from "../../adapters/redis/IoRedis.ts"
import { makeRedisServer } from "../support/RedisServer.ts"
import { TestDatabase, TestDatabaseUrls } from "../support/TestDatabase.ts"
import { queueStoreContract } from "./QueueStoreContract.ts"

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const lockExpirationMillis = 600

/** Effect's Redis store as adapters/main/Webhooks.ts configures it, with short intervals. */
const redisStore = (prefix: string) =>
  PersistedQueue.layerStoreRedis({
    prefix,
    pollInterval: "50 millis",
    lockRefreshInterval: lockExpirationMillis / 3,
    lockExpiration: lockExpirationMillis
  })

/** This file's key prefix on the shared Redis; its keys are deleted afterwards. */
class RedisPrefix extends Context.Service<RedisPrefix, string>()("test/QueueStore/RedisPrefix") {
  static readonly layer = Layer.effect(
    RedisPrefix,
    Effect.gen(function* () {
      const prefix = `test:queue:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const redis = yield* Redis.Redis
          let cursor = "0"
          do {
            const [next, keys] = yield* redis.send<[string, Array<string>]>("SCAN", cursor, "MATCH", `${prefix}*`)
            cursor = next
            if (keys.length > 0) yield* redis.send("DEL", ...keys)
          } while (cursor !== "0")
        }).pipe(Effect.provide(IoRedis.layer({ url: Redacted.make(redisUrl) })), Effect.orDie)
      )
      return prefix
    })
  )
}

const redisConsumer = (prefix: string) =>
  Layer.effect(PersistedQueue.PersistedQueueFactory, PersistedQueue.makeFactory).pipe(
    Layer.provideMerge(redisStore(prefix)),
    Layer.provide(IoRedis.layer({ url: Redacted.make(redisUrl) }))
  )

queueStoreContract("Effect's Redis store (PersistedQueue.layerStoreRedis)", RedisPrefix.layer, {
  consumer: () => Layer.unwrap(RedisPrefix.use((prefix) => Effect.succeed(redisConsumer(prefix)))).pipe(Layer.orDie),
  deadLetters: false,
  workerConfig: (queue) =>
    RedisPrefix.use((prefix) =>
      Effect.succeed({ store: "redis" as const, url: redisUrl, prefix, lockExpirationMillis, queue })
    ),
  claimTimeout: Duration.millis(lockExpirationMillis),
  delayStep: "1 milli"
})

const sqlLockExpirationMillis = 1_000

queueStoreContract("PostgresQueueStore (PersistedQueue.layerStoreSql) as the service role", TestDatabase, {
  consumer: () =>
    Layer.effect(PersistedQueue.PersistedQueueFactory, PersistedQueue.makeFactory).pipe(
      Layer.provideMerge(
        PostgresQueueStore.layer({
          pollInterval: "50 millis",
          lockRefreshInterval: "200 millis",
          lockExpiration: sqlLockExpirationMillis
        })
      ),
      Layer.orDie
    ),
  deadLetters: true,
  workerConfig: (queue) =>
    TestDatabaseUrls.use((urls) =>
      Effect.succeed({
        store: "sql" as const,
        url: Redacted.value(urls.app),
        lockExpirationMillis: sqlLockExpirationMillis,
        queue
      })
    ),
  claimTimeout: Duration.millis(sqlLockExpirationMillis),
  delayStep: "1 second"
})

describe("Effect's Redis store when Redis goes down", () => {
  it.live(
    "offers fail with a typed error during the outage, and offers and takes work again after a restart",
    () =>
      Effect.gen(function* () {
        const server = yield* makeRedisServer
        const context = yield* Layer.build(
          PersistedQueue.layer.pipe(
            Layer.provide(redisStore("fault:")),
            Layer.provide(IoRedis.layer({ url: server.url }))
          )
        )
        const queue = yield* PersistedQueue.make({ name: "jobs", schema: Schema.Struct({ n: Schema.Number }) }).pipe(
          Effect.provideContext(context)
        )
        yield* queue.offer({ n: 1 })
        assert.deepStrictEqual(yield* queue.take(Effect.succeed), { n: 1 })

        const waiting = yield* queue.take(Effect.succeed).pipe(Effect.forkChild)
        yield* server.stop
        const started = Date.now()
        const error = yield* Effect.flip(queue.offer({ n: 2 }))
        assert.strictEqual(error._tag, "PersistedQueueError")
        assert.isBelow(Date.now() - started, 1_000, "fails fast instead of queueing the command")

        yield* server.start
        yield* queue.offer({ n: 3 }).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 50 }))
        assert.deepStrictEqual(yield* Fiber.join(waiting).pipe(Effect.timeout("10 seconds")), { n: 3 })
      }),
    30_000
  )
})

describe("IoRedis", () => {
  it.live("sends commands, reloads flushed scripts, reserves connections for blocking reads, subscribes", () =>
    Effect.gen(function* () {
      const server = yield* makeRedisServer
      const context = yield* Layer.build(IoRedis.layer({ url: server.url, pool: { maxConnections: 1 } }))
      const redis = Context.get(context, Redis.Redis)
      assert.strictEqual(yield* redis.send("PING"), "PONG")

      const echo = Redis.script((key: string, value: string) => [key, value], {
        lua: `redis.call("SET", KEYS[1], ARGV[1]) return redis.call("GET", KEYS[1])`,
        numberOfKeys: 1
      }).withReturnType<string>()
      assert.strictEqual(yield* redis.eval(echo)("k", "one"), "one")
      yield* redis.send("SCRIPT", "FLUSH")
      assert.strictEqual(yield* redis.eval(echo)("k", "two"), "two")

      // an interrupted blocking read closes its connection; the pool of one still serves the next reservation
      const blocked = yield* Effect.scoped(
        Effect.flatMap(redis.reserve, (connection) => connection.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
      ).pipe(Effect.forkChild)
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(blocked)
      const read = yield* Effect.scoped(
        Effect.flatMap(redis.reserve, (connection) =>
          connection.send("XREAD", "COUNT", "1", "BLOCK", "20", "STREAMS", "s", "$")
        )
      )
      assert.isNull(read)

      const messages = yield* redis.subscribe("news")
      yield* redis
        .send<number>("PUBLISH", "news", "hello")
        .pipe(Effect.repeat({ until: (receivers) => receivers > 0, schedule: Schedule.spaced("10 millis") }))
      assert.deepStrictEqual(yield* Queue.take(messages), { channel: "news", message: "hello" })
    })
  )
})
