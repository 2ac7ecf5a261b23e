import { Config, Duration, Effect, Layer } from "effect"
import { PersistedQueue } from "effect/persistence"
import { type Priority, priorities } from "../../domain/sync/SyncJob.ts"
import { SyncMessage, SyncQueue } from "../../ports/sync/SyncQueue.ts"
import { QueueUnavailable } from "../../ports/WebhookQueue.ts"
import { retrySchedule } from "./PersistedWebhookQueue.ts"

const unavailable = (error: { readonly message: string }) => new QueueUnavailable({ message: error.message })

/**
 * `SyncQueue` on Effect's `PersistedQueue`, one queue per priority (`sync-critical` … `sync-low`). A handler's
 * failure is a defect of the engine (jobs record their own failures), retried a few times on the schedule.
 */
export const PersistedSyncQueue = {
  layer: Layer.effect(
    SyncQueue,
    Effect.gen(function* () {
      const maxAttempts = yield* Config.Int("SYNC_QUEUE_MAX_ATTEMPTS").pipe(Config.withDefault(5))
      const queues = new Map<Priority, PersistedQueue.PersistedQueue<SyncMessage>>()
      for (const priority of priorities) {
        queues.set(
          priority,
          yield* PersistedQueue.make({
            name: `sync-${priority}`,
            schema: SyncMessage,
            maxAttempts,
            retrySchedule: retrySchedule(Duration.seconds(1), Duration.minutes(1))
          })
        )
      }
      const queue = (p: Priority) => queues.get(p)!
      return SyncQueue.of({
        offer: (message, priority, options) =>
          queue(priority)
            .offer(message, {
              id: options.id,
              ...(options.delayMillis === undefined ? {} : { delay: Duration.millis(options.delayMillis) })
            })
            .pipe(Effect.asVoid, Effect.mapError(unavailable)),
        take: (priority, handle) =>
          queue(priority)
            .take((message) => handle(message))
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
