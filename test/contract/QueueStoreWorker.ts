// A queue consumer in its own process, for the "consumer dies mid-message"
// contract test: it takes one element, prints `taken <id> <attempts>`, and then
// hangs in the handler until the test SIGKILLs it (no ack, no release).
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema } from "effect"
import { PersistedQueue } from "effect/persistence"
import { PostgresQueueStore } from "../../adapters/postgres/PostgresQueueStore.ts"
import { IoRedis } from "../../adapters/redis/IoRedis.ts"

export type QueueWorkerConfig =
  | {
      readonly store: "redis"
      readonly url: string
      readonly prefix: string
      readonly lockExpirationMillis: number
      readonly queue: string
    }
  | {
      readonly store: "sql"
      readonly url: string
      readonly lockExpirationMillis: number
      readonly queue: string
    }

const config: QueueWorkerConfig = JSON.parse(process.env.QUEUE_WORKER_CONFIG ?? "{}")

const store: Layer.Layer<PersistedQueue.PersistedQueueStore, unknown> =
  config.store === "redis"
    ? PersistedQueue.layerStoreRedis({
        prefix: config.prefix,
        pollInterval: "50 millis",
        lockExpiration: config.lockExpirationMillis
      }).pipe(Layer.provide(IoRedis.layer({ url: Redacted.make(config.url) })))
    : PostgresQueueStore.layer({ pollInterval: "50 millis", lockExpiration: config.lockExpirationMillis }).pipe(
        Layer.provide(PgClient.layer({ url: Redacted.make(config.url), maxConnections: 2 }))
      )

const program = Effect.gen(function* () {
  const queue = yield* PersistedQueue.make({ name: config.queue, schema: Schema.Struct({ n: Schema.Number }) })
  yield* queue.take((_, { attempts, id }) =>
    Effect.sync(() => process.stdout.write(`taken ${id} ${attempts}\n`)).pipe(Effect.andThen(Effect.never))
  )
})

Effect.runFork(program.pipe(Effect.provide(PersistedQueue.layer.pipe(Layer.provide(store))), Effect.orDie))
