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

export const Role = Config.Literals(["api", "worker", "all"], "ROLE").pipe(Config.withDefault("all" as const))

const GroupCommitConfig = Config.all({
  maxInFlight: Config.Int("WEBHOOK_GROUP_COMMIT_MAX_IN_FLIGHT").pipe(Config.withDefault(4)),
  maxBatch: Config.Int("WEBHOOK_GROUP_COMMIT_MAX_BATCH").pipe(Config.withDefault(256)),
  windowMillis: Config.Int("WEBHOOK_GROUP_COMMIT_WINDOW_MS").pipe(Config.withDefault(2))
})

/** Effect's Redis store when REDIS_URL is set (chosen by bench:queue, see the README), else its SQL store. */
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
    // A message claimed by a worker that died is taken over once its lock has not been renewed for this long.
    const claimIdle = yield* Config.Duration("WEBHOOK_CLAIM_IDLE").pipe(Config.withDefault(Duration.seconds(60)))
    return PersistedQueue.layerStoreRedis({
      // not the Streams store's old default: its keys have other types under the same names
      prefix: yield* Config.String("REDIS_QUEUE_PREFIX").pipe(Config.withDefault("integration-service:pq:")),
      pollInterval: yield* Config.Duration("REDIS_QUEUE_POLL_INTERVAL").pipe(Config.withDefault(Duration.millis(100))),
      lockExpiration: claimIdle,
      lockRefreshInterval: Duration.divideUnsafe(claimIdle, 3)
    }).pipe(Layer.provide(IoRedis.layerConfig()))
  })
)

/** Effect's queue factory on that store: the webhook queue and the sync queues share it. */
export const QueueFactoryLive = PersistedQueue.layer.pipe(Layer.provide(QueueStoreLive))

/** The webhook adapters over the service's SQL pool: inbox (group commit), queue, and what handlers write. */
export const WebhookAdapters = Layer.mergeAll(
  Layer.unwrap(Effect.map(GroupCommitConfig, PostgresWebhookInbox.layer)),
  PersistedWebhookQueue.layer.pipe(Layer.provide(QueueFactoryLive)),
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
