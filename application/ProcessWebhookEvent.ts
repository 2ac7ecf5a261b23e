import { Cause, Config, Context, Data, Duration, Effect, Layer, Metric, Schedule, Tracer } from "effect"
import { TenantId } from "../domain/Ids.ts"
import { WebhookInbox } from "../ports/WebhookInbox.ts"
import { messageId, type WebhookJob, WebhookQueue } from "../ports/WebhookQueue.ts"
import { WebhookHandlers } from "./WebhookHandlers.ts"

export const WorkerConfig = Config.all({
  concurrency: Config.Int("WEBHOOK_WORKER_CONCURRENCY").pipe(Config.withDefault(8)),
  reconcileEvery: Config.Duration("WEBHOOK_RECONCILE_INTERVAL").pipe(Config.withDefault(Duration.seconds(5))),
  reconcileAfter: Config.Duration("WEBHOOK_RECONCILE_AFTER").pipe(Config.withDefault(Duration.seconds(10)))
})

/** `00-<trace>-<span>-<flags>` → the span a worker's spans join. */
export const parentFrom = (traceParent: string | null): Tracer.ExternalSpan | undefined => {
  const parts = traceParent?.split("-")
  if (parts === undefined || parts.length !== 4 || parts[1]?.length !== 32 || parts[2]?.length !== 16) return undefined
  return Tracer.externalSpan({ traceId: parts[1], spanId: parts[2], sampled: parts[3] === "01" })
}

export const traceParentOf = (span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }) =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error
    ? `${String(error._tag)}: ${"message" in error ? String(error.message) : ""}`
    : error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error)

/** Failed attempts of the worker, by outcome: `retry` (the queue tries again), `dead` (given up), `worker`. */
export const webhookWorkerFailures = Metric.counter("webhook_worker_failures", {
  description: "webhook events whose handling failed, and worker failures outside any event",
  incremental: true
})
const countFailure = (outcome: "retry" | "dead" | "worker") =>
  Metric.update(Metric.withAttributes(webhookWorkerFailures, { outcome }), 1)

/** One event's failure, already recorded on its row, logged and counted; the queue retries or dead-letters it. */
export class WebhookEventFailed extends Data.TaggedError("WebhookEventFailed")<{
  readonly inboxId: string
  readonly dead: boolean
}> {}

interface Attempt {
  readonly attempts: number
  readonly last: boolean
}

/**
 * The worker side: each queued event applied through its handler exactly once (the inbox row and the handler's
 * writes commit together), failures counted on the row and retried by the queue, dead once attempts run out; and
 * the reconciler that enqueues rows the queue never got.
 */
export class ProcessWebhookEvent extends Context.Service<ProcessWebhookEvent>()(
  "integration-service/application/ProcessWebhookEvent",
  {
    make: Effect.gen(function* () {
      const inbox = yield* WebhookInbox
      const queue = yield* WebhookQueue
      const handlers = yield* WebhookHandlers
      const config = yield* WorkerConfig

      /** Any failure of the handler or the inbox, typed or a defect: on the row, in the log with its cause, counted. */
      const failed = (job: WebhookJob, attempt: Attempt, cause: Cause.Cause<unknown>) =>
        Effect.gen(function* () {
          const tenantId = TenantId.make(job.tenantId)
          const reason = describe(Cause.squash(cause))
          yield* Effect.annotateCurrentSpan({ "webhook.error": reason })
          yield* inbox
            .recordFailure(tenantId, job.inboxId, reason, attempt.last)
            .pipe(Effect.catchCause((recordCause) => Effect.logError("webhook failure not recorded", recordCause)))
          yield* Effect.logError(
            attempt.last ? "webhook event dead-lettered" : "webhook event failed; the queue retries it",
            cause
          ).pipe(
            Effect.annotateLogs({
              "webhook.inbox_id": job.inboxId,
              "webhook.provider": job.provider,
              "queue.attempt": attempt.attempts
            })
          )
          yield* countFailure(attempt.last ? "dead" : "retry")
          return yield* new WebhookEventFailed({ inboxId: job.inboxId, dead: attempt.last })
        })

      const process = (job: WebhookJob, attempt: Attempt) => {
        const tenantId = TenantId.make(job.tenantId)
        const parent = parentFrom(job.traceParent)
        return inbox.apply(tenantId, job.inboxId, handlers.handle).pipe(
          Effect.tap((outcome) => Effect.annotateCurrentSpan({ "webhook.outcome": outcome })),
          Effect.asVoid,
          Effect.catchCause((cause) =>
            // Interrupted only (shutdown): no failure of the event, so nothing to record or retry for.
            Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : failed(job, attempt, cause)
          ),
          Effect.withSpan("ProcessWebhookEvent.process", {
            ...(parent === undefined ? {} : { parent }),
            attributes: {
              "webhook.inbox_id": job.inboxId,
              "webhook.provider": job.provider,
              "queue.attempt": attempt.attempts
            }
          })
        )
      }

      /**
       * One taker: forever takes and applies; a failed event goes back to the queue, the loop goes on. An event's
       * failure was logged where the event was known; anything else (a store defect) is logged and counted here.
       */
      const taker = queue.take(process).pipe(
        Effect.catchTag("WebhookEventFailed", () => Effect.void),
        Effect.catchTag("QueueUnavailable", (error) =>
          Effect.logWarning("webhook queue unavailable", error.message).pipe(Effect.andThen(Effect.sleep("1 second")))
        ),
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError("webhook worker failed", cause).pipe(Effect.andThen(countFailure("worker")))
        ),
        Effect.forever
      )

      /** Offers every inbox row that waited longer than `reconcileAfter` without being processed. */
      const reconcile = Effect.fn("ProcessWebhookEvent.reconcile")(function* () {
        const pending = yield* inbox.pending(config.reconcileAfter, 500)
        yield* Effect.annotateCurrentSpan({ "webhook.pending": pending.length })
        yield* Effect.forEach(
          pending,
          (row) =>
            queue.offer(
              { inboxId: row.id, tenantId: row.tenantId, provider: row.provider, traceParent: row.traceParent },
              messageId(row.id, row.requeues)
            ),
          { concurrency: 16, discard: true }
        )
        return pending.length
      })

      const reconciler = reconcile().pipe(
        Effect.catchCause((cause) => Effect.logWarning("webhook reconcile failed", Cause.pretty(cause))),
        Effect.repeat(Schedule.spaced(config.reconcileEvery))
      )

      /** The worker: `concurrency` takers and the reconciler, until interrupted. */
      const takers = Array.from({ length: config.concurrency }, () => taker)
      const run = Effect.all([...takers, reconciler], { concurrency: "unbounded", discard: true })

      return { process, reconcile, run }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
  /** Runs the worker in the background for as long as the layer lives. */
  static readonly layerRun = Layer.effectDiscard(
    Effect.flatMap(ProcessWebhookEvent, (worker) => Effect.forkScoped(worker.run))
  ).pipe(Layer.provideMerge(this.layer))
}
