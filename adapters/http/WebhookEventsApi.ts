import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Provider } from "../../domain/Provider.ts"
import { StorableText } from "../../domain/Text.ts"
import { InboxEvent, InboxStatus } from "../../ports/WebhookInbox.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

export const EventPageResponse = Schema.Struct({
  events: Schema.Array(InboxEvent),
  next: Schema.NullOr(Schema.String)
}).annotate({ identifier: "WebhookEventPage" })

export const RetryRequest = Schema.Struct({
  provider: Provider,
  /** One event (its inbox id); without it, every failed or dead event of the provider. */
  eventId: Schema.optionalKey(Schema.String.check(Schema.isUUID()))
})

export const RetryResponse = Schema.Struct({ requeued: Schema.Array(Schema.String) }).annotate({
  identifier: "WebhookRetry"
})

/** Webhook history and manual retry (JWT). The receiving endpoints are raw routes, see WebhooksHttp. */
export class WebhookEventsGroup extends HttpApiGroup.make("webhookEvents")
  .add(
    HttpApiEndpoint.get("list", "/webhooks/:provider/events", {
      params: { provider: Provider },
      query: {
        status: Schema.optionalKey(InboxStatus),
        type: Schema.optionalKey(StorableText),
        limit: Schema.optionalKey(
          Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 500 }))
        ),
        cursor: Schema.optionalKey(StorableText)
      },
      success: EventPageResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "admin"),
    HttpApiEndpoint.post("retry", "/webhooks/retry", {
      payload: RetryRequest,
      success: RetryResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "admin")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
