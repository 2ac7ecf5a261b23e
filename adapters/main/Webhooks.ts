import { Config, Duration, Effect, Layer, Option } from "effect"
import { PersistedQueue, type Redis } from "effect/persistence"
import type { SqlClient, SqlError } from "effect/sql"
import { IngestWebhook } from "../../application/IngestWebhook.ts"
import { ProcessWebhookEvent } from "../../application/ProcessWebhookEvent.ts"
import { WebhookEvents } from "../../application/WebhookEvents.ts"
import { WebhookHandlers } from "../../application/WebhookHandlers.ts"
import { PersistedWebhookQueue } from "../persistence/PersistedWebhookQueue.ts"
import { PostgresMarketingContacts } from "../postgres/PostgresMarketingContacts.ts"
import { PostgresQueueStore } from "../postgres/PostgresQueueStore.ts"
import { PostgresSyncRequests } from "../postgres/PostgresSyncRequests.ts"
import { PostgresWebhookEndpoints } from "../postgres/PostgresWebhookEndpoints.ts"
import { PostgresWebhookInbox } from "../postgres/PostgresWebhookInbox.ts"
import { IoRedis } from "../redis/IoRedis.ts"
import { RedisStreamsQueueStore } from "../redis/RedisStreamsQueueStore.ts"

export const Role = Config.Literals(["api", "worker", "all"], "ROLE").pipe(Config.withDefault("all" as const))

const GroupCommitConfig = Config.all({
  maxInFlight: Config.Int("WEBHOOK_GROUP_COMMIT_MAX_IN_FLIGHT").pipe(Config.withDefault(4)),
  maxBatch: Config.Int("WEBHOOK_GROUP_COMMIT_MAX_BATCH").pipe(Config.withDefault(256)),
  windowMillis: Config.Int("WEBHOOK_GROUP_COMMIT_WINDOW_MS").pipe(Config.withDefault(2))
})

/** Redis Streams when REDIS_URL is set (one reserved connection per taker), else the SQL store in PostgreSQL. */
const QueueStoreLive = Layer.unwrap(
  Effect.gen(function* (): Effect.fn.Return<
    Layer.Layer<
      PersistedQueue.PersistedQueueStore,
      SqlError.SqlError | Redis.RedisError | Config.ConfigError,
      SqlClient.SqlClient
    >,
    Config.ConfigError
  > {
    const redis = yield* Config.option(Config.String("REDIS_URL"))
    if (Option.isNone(redis)) return PostgresQueueStore.layer()
    const takers = yield* Config.Int("WEBHOOK_WORKER_CONCURRENCY").pipe(Config.withDefault(8))
    return RedisStreamsQueueStore.layer({
      prefix: yield* Config.String("REDIS_QUEUE_PREFIX").pipe(Config.withDefault("integration-service:queue:")),
      consumerGroup: "webhook-workers",
      // A message claimed by a worker that died is taken over once idle this long.
      claimIdleMillis: Duration.toMillis(
        yield* Config.Duration("WEBHOOK_CLAIM_IDLE").pipe(Config.withDefault(Duration.seconds(60)))
      )
    }).pipe(Layer.provide(IoRedis.layerConfig({ pool: { maxConnections: takers + 2 } })))
  })
)

/** The webhook adapters over the service's SQL pool: inbox (group commit), queue, and what handlers write. */
export const WebhookAdapters = Layer.mergeAll(
  Layer.unwrap(Effect.map(GroupCommitConfig, PostgresWebhookInbox.layer)),
  PersistedWebhookQueue.layer.pipe(Layer.provide(PersistedQueue.layer), Layer.provide(QueueStoreLive)),
  PostgresSyncRequests.layer,
  PostgresMarketingContacts.layer,
  PostgresWebhookEndpoints.layer
)

/** Receiving, history/retry, and the worker's use case (not running: see `WebhookWorkerLive`). */
export const WebhookUseCases = Layer.mergeAll(IngestWebhook.layer, WebhookEvents.layer, ProcessWebhookEvent.layer).pipe(
  Layer.provideMerge(WebhookHandlers.layer)
)

/** Takers and the reconciler in the background for as long as the process runs (ROLE=worker or all). */
export const WebhookWorkerLive = Layer.effectDiscard(
  Effect.flatMap(ProcessWebhookEvent, (worker) => Effect.forkScoped(worker.run))
)
