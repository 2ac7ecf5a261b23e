import type { Effect } from "effect"
import { Context } from "effect"
import type { PersistedQueue } from "effect/persistence"

/** A message that exhausted its attempts (or could never be decoded). */
export interface DeadLetter {
  readonly id: string
  readonly element: unknown
  readonly attempts: number
  readonly reason: string
  readonly failedAt: Date
}

/** Inspect and re-queue the dead letters of a named queue ("retry one / retry all failed"). */
export class QueueDeadLetters extends Context.Service<
  QueueDeadLetters,
  {
    /** Newest first. */
    readonly list: (
      name: string,
      options?: { readonly limit?: number | undefined }
    ) => Effect.Effect<ReadonlyArray<DeadLetter>, PersistedQueue.PersistedQueueError>
    /** Puts one dead letter back on its queue with a fresh attempt count; false when there is none by that id. */
    readonly retry: (name: string, id: string) => Effect.Effect<boolean, PersistedQueue.PersistedQueueError>
    /** Re-queues every dead letter of the queue; returns how many. */
    readonly retryAll: (name: string) => Effect.Effect<number, PersistedQueue.PersistedQueueError>
  }
>()("integration-service/ports/QueueDeadLetters") {}
