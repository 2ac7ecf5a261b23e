import { Config, Duration, Effect, Layer, Schedule } from "effect"
import { PersistedQueue } from "effect/persistence"
import { QueueUnavailable, WebhookJob, WebhookQueue } from "../../ports/WebhookQueue.ts"

export const queueName = "webhook-events"

export const RetryConfig = Config.all({
  maxAttempts: Config.Int("WEBHOOK_RETRY_MAX_ATTEMPTS").pipe(Config.withDefault(8)),
  baseDelay: Config.Duration("WEBHOOK_RETRY_BASE_DELAY").pipe(Config.withDefault(Duration.seconds(1))),
  maxDelay: Config.Duration("WEBHOOK_RETRY_MAX_DELAY").pipe(Config.withDefault(Duration.minutes(10)))
})

/** Exponential from `baseDelay` (×2 per attempt), jittered ×0.8–1.2, capped at `maxDelay`. */
export const retrySchedule = (baseDelay: Duration.Duration, maxDelay: Duration.Duration) =>
  Schedule.min([Schedule.exponential(baseDelay).pipe(Schedule.jittered), Schedule.spaced(maxDelay)])

const unavailable = (error: { readonly message: string }) => new QueueUnavailable({ message: error.message })

/**
 * `WebhookQueue` on Effect's `PersistedQueue` (whichever store is provided: Redis, SQL, memory). The last
 * attempt is known to the handler so the inbox row can be marked dead as the store dead-letters the message.
 */
export const PersistedWebhookQueue = {
  layer: Layer.effect(
    WebhookQueue,
    Effect.gen(function* () {
      const { maxAttempts, baseDelay, maxDelay } = yield* RetryConfig
      const queue = yield* PersistedQueue.make({
        name: queueName,
        schema: WebhookJob,
        maxAttempts,
        retrySchedule: retrySchedule(baseDelay, maxDelay)
      })
      return WebhookQueue.of({
        // The store's offer is the span (with the message id): one per offer is enough on the webhook hot path.
        offer: (job, id) => queue.offer(job, { id }).pipe(Effect.asVoid, Effect.mapError(unavailable)),
        take: (handle) =>
          queue
            .take((job, meta) => handle(job, { attempts: meta.attempts, last: meta.attempts >= maxAttempts }))
            .pipe(
              Effect.catchIf(
                (e): e is PersistedQueue.PersistedQueueError => e instanceof PersistedQueue.PersistedQueueError,
                (error) => Effect.fail(unavailable(error))
              )
            )
      })
    })
  )
} as const
