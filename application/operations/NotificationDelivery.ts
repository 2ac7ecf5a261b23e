import { Clock, Config, Context, Duration, Effect, Layer, Schedule } from "effect"
import {
  type ClaimedNotification,
  NotificationOutbox,
  type NotificationResult
} from "../../ports/operations/NotificationOutbox.ts"
import { NotificationSender } from "../../ports/operations/NotificationSender.ts"

/** The wait before attempt `attempt + 1`: doubling from `base`, at most an hour. */
export const retryDelay = (attempt: number, base: Duration.Duration): Duration.Duration =>
  Duration.min(Duration.times(base, 2 ** Math.max(0, attempt - 1)), Duration.hours(1))

/**
 * Delivers the notification outbox (every integration event and provider outage) to the operator's endpoint:
 * each claimed notification is leased to this process, sent once per attempt, retried on `retryDelay`
 * (`NOTIFY_RETRY_BASE`, default 30 seconds) and dead after `NOTIFY_MAX_ATTEMPTS` (default 8). Without
 * `NOTIFY_WEBHOOK_URL` the outbox is drained as skipped, so it never grows.
 */
export class NotificationDelivery extends Context.Service<NotificationDelivery>()(
  "integration-service/application/operations/NotificationDelivery",
  {
    make: Effect.gen(function* () {
      const outbox = yield* NotificationOutbox
      const sender = yield* NotificationSender
      const maxAttempts = yield* Config.Int("NOTIFY_MAX_ATTEMPTS").pipe(Config.withDefault(8))
      const base = yield* Config.Duration("NOTIFY_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(30)))
      const batch = yield* Config.Int("NOTIFY_BATCH").pipe(Config.withDefault(20))
      // Longer than a send may take (NOTIFY_WEBHOOK_TIMEOUT, 10 s by default), so a lease never ends mid-send.
      const lease = Duration.minutes(2)

      const attempt = Effect.fnUntraced(function* (notification: ClaimedNotification) {
        if (!sender.configured) return { _tag: "Skipped" } satisfies NotificationResult
        return yield* sender.send(notification).pipe(
          Effect.as<NotificationResult>({ _tag: "Delivered" }),
          Effect.catchTag("NotificationRefused", (e) =>
            Effect.gen(function* () {
              if (notification.attempts >= maxAttempts) {
                yield* Effect.logError("notification dead-lettered").pipe(
                  Effect.annotateLogs({ "notification.id": notification.id, type: notification.type, error: e.message })
                )
                return { _tag: "Dead", error: e.message } satisfies NotificationResult
              }
              const at = (yield* Clock.currentTimeMillis) + Duration.toMillis(retryDelay(notification.attempts, base))
              return { _tag: "Retry", error: e.message, at: new Date(at) } satisfies NotificationResult
            })
          )
        )
      })

      /** One round: what is due now, up to the batch; answers what became of each. */
      const deliverDue = Effect.fn("NotificationDelivery.deliverDue")(function* () {
        const claimed = yield* outbox.claim(batch, Duration.toMillis(lease))
        return yield* Effect.forEach(
          claimed,
          (n) =>
            Effect.gen(function* () {
              const result = yield* attempt(n)
              yield* outbox.finish(n.id, result)
              return { id: n.id, type: n.type, result }
            }),
          { concurrency: 4 }
        )
      })

      return { deliverDue }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}

/** Delivery as a background fiber: a round every `NOTIFY_POLL_INTERVAL` (default 2 seconds); a failed round is logged. */
export const NotificationDeliveryFiber = Layer.effectDiscard(
  Effect.gen(function* () {
    const delivery = yield* NotificationDelivery
    const poll = yield* Config.Duration("NOTIFY_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(2)))
    yield* delivery.deliverDue().pipe(
      Effect.catchCause((cause) => Effect.logError("notification delivery round failed", cause)),
      Effect.repeat(Schedule.spaced(poll)),
      Effect.forkScoped
    )
  })
)
