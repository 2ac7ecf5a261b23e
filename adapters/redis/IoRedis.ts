import { Config, Deferred, Effect, Layer, Redacted } from "effect"
import { Redis } from "effect/persistence"
import { Redis as IORedis } from "ioredis"

export interface IoRedisOptions {
  readonly url: Redacted.Redacted<string>
  /** Pool behind `Redis.reserve` (blocking commands such as XREADGROUP BLOCK). */
  readonly pool?: Redis.PoolOptions | undefined
  /** Fails a command with no reply after this many milliseconds; off by default. */
  readonly commandTimeout?: number | undefined
}

// Commands fail at once while the server is unreachable (no offline queue, no
// resend after a dropped connection) instead of piling up in memory, while the
// shared client keeps reconnecting in the background. RESP2 keeps reply shapes
// the same as the node-redis client the effect persistence stores were written
// against.
const sharedOptions = (options: IoRedisOptions) => ({
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  protocol: 2 as const,
  // Commands issued in one event-loop turn (the queue offers of concurrent webhooks) share one write and one read.
  enableAutoPipelining: true,
  retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000) + Math.floor(Math.random() * 100),
  ...(options.commandTimeout === undefined ? {} : { commandTimeout: options.commandTimeout })
})

const toError = (cause: unknown) => new Redis.RedisError({ cause })

const sendWith =
  (client: IORedis) =>
  <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
    Effect.tryPromise({
      try: () => client.call(command, [...args]) as Promise<A>,
      catch: toError
    })

const connectOrDispose = (client: IORedis): Promise<IORedis> =>
  client.connect().then(
    () => client,
    (cause) => {
      client.disconnect()
      throw cause
    }
  )

const make = Effect.fnUntraced(function* (options: IoRedisOptions) {
  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  const client = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectOrDispose(new IORedis(Redacted.value(options.url), sharedOptions(options))),
      catch: toError
    }),
    (client) => Effect.sync(() => client.disconnect())
  )

  // ioredis emits `error` on every failed reconnect; report the outage once and the recovery once.
  let healthy = true
  client.on("error", (cause) => {
    if (healthy) {
      healthy = false
      runFork(Effect.logWarning("Redis connection lost; reconnecting", cause))
    }
  })
  client.on("ready", () => {
    if (!healthy) {
      healthy = true
      runFork(Effect.logInfo("Redis connection restored"))
    }
  })

  return yield* Redis.make({
    send: sendWith(client),
    // A reserved connection never reconnects: a dropped socket fails its
    // in-flight command and the pool discards it.
    connect: Effect.tryPromise({
      try: () => {
        const connection = client.duplicate({ retryStrategy: () => null })
        connection.on("error", () => {})
        return connectOrDispose(connection)
      },
      catch: toError
    }).pipe(
      Effect.map((connection) => ({
        send: sendWith(connection),
        // disconnect rejects in-flight commands rather than waiting for them
        close: Effect.sync(() => connection.disconnect())
      }))
    ),
    pool: options.pool,
    subscribe: Effect.fnUntraced(function* (channel, onMessage) {
      const ended = yield* Deferred.make<void, Redis.RedisError>()
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const subscriber = await connectOrDispose(client.duplicate())
            subscriber.on("error", () => {})
            subscriber.on("message", (messageChannel: string, message: string) => {
              onMessage({ channel: messageChannel, message })
            })
            subscriber.on("end", () => {
              Deferred.doneUnsafe(ended, Effect.fail(toError(new Error("Redis subscriber connection ended"))))
            })
            try {
              await subscriber.subscribe(channel)
            } catch (cause) {
              subscriber.disconnect()
              throw cause
            }
            return subscriber
          },
          catch: toError
        }),
        (subscriber) =>
          Effect.sync(() => {
            subscriber.removeAllListeners("end")
            subscriber.disconnect()
          })
      )
      return Deferred.await(ended)
    })
  })
})

/**
 * Effect's `Redis` service over one shared ioredis client, a duplicate client
 * per subscription and a pool of dedicated connections for `reserve`.
 * Building the layer fails with `RedisError` when Redis is unreachable; once
 * built, commands fail fast with `RedisError` during an outage and succeed
 * again after the client reconnects. Everything is closed when the scope ends.
 */
const layer = (options: IoRedisOptions): Layer.Layer<Redis.Redis, Redis.RedisError> =>
  Layer.effect(Redis.Redis, make(options))

/** `layer` with the URL from `REDIS_URL`. */
const layerConfig = (
  options: Omit<IoRedisOptions, "url"> = {}
): Layer.Layer<Redis.Redis, Redis.RedisError | Config.ConfigError> =>
  Layer.effect(
    Redis.Redis,
    Effect.flatMap(Config.Redacted("REDIS_URL"), (url) => make({ ...options, url }))
  )

export const IoRedis = { layer, layerConfig } as const
