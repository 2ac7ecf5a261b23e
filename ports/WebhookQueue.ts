import { Context, type Effect, Schema } from "effect"

/** One queued webhook: which inbox row to apply, and the trace it belongs to. */
export const WebhookJob = Schema.Struct({
  inboxId: Schema.String,
  tenantId: Schema.String,
  provider: Schema.String,
  traceParent: Schema.NullOr(Schema.String)
})
export type WebhookJob = typeof WebhookJob.Type

export class QueueUnavailable extends Schema.TaggedError<QueueUnavailable>()("QueueUnavailable", {
  message: Schema.String
}) {}

/** The message id: the inbox row, plus its requeue generation (the queue de-duplicates by id). */
export const messageId = (inboxId: string, requeues: number): string =>
  requeues === 0 ? inboxId : `${inboxId}:${requeues}`

/**
 * The processing queue of webhook events, over Effect's `PersistedQueue` (Redis Streams or SQL store).
 * `take` hands one job to `handle`; a failure retries it on the configured schedule until the last attempt,
 * after which it is dead-lettered.
 */
export class WebhookQueue extends Context.Service<
  WebhookQueue,
  {
    readonly offer: (job: WebhookJob, id: string) => Effect.Effect<void, QueueUnavailable>
    readonly take: <E, R>(
      handle: (
        job: WebhookJob,
        attempt: { readonly attempts: number; readonly last: boolean }
      ) => Effect.Effect<void, E, R>
    ) => Effect.Effect<void, E | QueueUnavailable, R>
  }
>()("integration-service/ports/WebhookQueue") {}
