import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { ClaimedNotification } from "./NotificationOutbox.ts"

/** The receiver did not take the notification (no answer, or not a 2xx): retried on the delivery schedule. */
export class NotificationRefused extends Schema.TaggedError<NotificationRefused>()("NotificationRefused", {
  message: Schema.String
}) {}

/** Delivers one notification to the operator's endpoint; `configured` is false when there is none. */
export class NotificationSender extends Context.Service<
  NotificationSender,
  {
    readonly configured: boolean
    readonly send: (notification: ClaimedNotification) => Effect.Effect<void, NotificationRefused>
  }
>()("integration-service/ports/operations/NotificationSender") {}
