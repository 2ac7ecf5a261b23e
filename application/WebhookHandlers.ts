import { Clock, Context, Effect, Layer, Schema } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import { ConnectionId, TenantId } from "../domain/Ids.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { type ContactChange, MarketingContacts } from "../ports/MarketingContacts.ts"
import { type SyncEntity, SyncRequests } from "../ports/SyncRequests.ts"
import type { Applied, InboxEvent } from "../ports/WebhookInbox.ts"
import { NeedsReauth } from "./NeedsReauth.ts"

/** A handler could not apply an event; the queue retries it, then dead-letters it with this message. */
export class WebhookHandlerFailed extends Schema.TaggedError<WebhookHandlerFailed>()("WebhookHandlerFailed", {
  message: Schema.String
}) {}

export type WebhookHandler = (event: InboxEvent) => Effect.Effect<Applied, WebhookHandlerFailed | StoreUnavailable>

type Json = Schema.Json
const field = (value: Json | undefined, ...path: ReadonlyArray<string>): string | null => {
  let at: Json | undefined = value
  for (const key of path) {
    at = typeof at === "object" && at !== null && !Array.isArray(at) ? (at as Record<string, Json>)[key] : undefined
  }
  return typeof at === "string" && at !== "" ? at : null
}

const required = (event: InboxEvent, ...path: ReadonlyArray<string>) => {
  const value = field(event.payload, ...path)
  return value === null
    ? Effect.fail(
        new WebhookHandlerFailed({ message: `${event.provider} ${event.type}: ${path.join(".")} is missing` })
      )
    : Effect.succeed(value)
}

/** Events not tied to a connection have nothing to change. */
const onConnection =
  (
    f: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      event: InboxEvent
    ) => Effect.Effect<void, WebhookHandlerFailed | StoreUnavailable>
  ): WebhookHandler =>
  (event) =>
    event.connectionId === null
      ? Effect.succeed("ignored")
      : Effect.as(f(TenantId.make(event.tenantId), ConnectionId.make(event.connectionId), event), "processed")

// QuickBooks entities the sync engine knows, and the entity type each becomes.
const quickBooksEntities: ReadonlyArray<readonly [string, SyncEntity]> = [
  ["customer", "customer"],
  ["item", "product"],
  ["invoice", "invoice"],
  ["payment", "payment"],
  ["salesreceipt", "order"]
]
const quickBooksOperations = ["created", "updated", "deleted", "merged", "voided", "emailed"]

/**
 * Stripe events that change what the sync engine mirrors, and the entity type each becomes (a price belongs to its
 * product, a charge is a payment). The endpoint registered on connect subscribes to exactly these.
 */
export const stripeSyncEvents: ReadonlyArray<readonly [string, SyncEntity]> = [
  ...["created", "updated", "deleted"].map((op) => [`customer.${op}`, "customer"] as const),
  ...["created", "updated", "deleted"].map((op) => [`product.${op}`, "product"] as const),
  ...["created", "updated", "deleted"].map((op) => [`price.${op}`, "product"] as const),
  ...["succeeded", "updated", "refunded", "failed"].map((op) => [`charge.${op}`, "payment"] as const),
  ...["created", "updated", "finalized", "paid", "payment_failed", "voided", "deleted"].map(
    (op) => [`invoice.${op}`, "invoice"] as const
  )
]

/** Mailchimp audience events a handler below applies; the webhook registered on the venue's audience subscribes to these. */
export const mailchimpWebhookEvents: ReadonlyArray<string> = ["unsubscribe", "cleaned", "upemail"]

// Square events that change a mirrored entity; a refund changes its payment.
const squareSyncEvents: ReadonlyArray<readonly [string, SyncEntity]> = [
  ["catalog.version.updated", "product"],
  ...["created", "updated", "deleted"].map((op) => [`customer.${op}`, "customer"] as const),
  ...["created", "updated", "fulfillment.updated"].map((op) => [`order.${op}`, "order"] as const),
  ...["created", "updated"].map((op) => [`payment.${op}`, "payment"] as const),
  ...["created", "updated"].map((op) => [`refund.${op}`, "payment"] as const)
]

/** Handlers added to (or replacing) the built-in ones, keyed `provider:type`; tests inject failures with it. */
export const ExtraWebhookHandlers = Context.Reference<Readonly<Record<string, WebhookHandler>>>(
  "integration-service/application/ExtraWebhookHandlers",
  { defaultValue: () => ({}) }
)

/**
 * One handler per (provider, type), keyed `provider:type`. An event with no handler is stored and marked ignored.
 * `ExtraWebhookHandlers` adds or replaces handlers.
 */
export class WebhookHandlers extends Context.Service<
  WebhookHandlers,
  { readonly handle: (event: InboxEvent) => Effect.Effect<Applied, WebhookHandlerFailed | StoreUnavailable> }
>()("integration-service/application/WebhookHandlers") {
  static readonly make = Effect.gen(function* () {
    const extra = yield* ExtraWebhookHandlers
    const connections = yield* ConnectionStore
    const syncs = yield* SyncRequests
    const contacts = yield* MarketingContacts
    const reauth = yield* NeedsReauth
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

    const requestSync = (entityType: SyncEntity) =>
      onConnection((tenantId, connectionId, event) =>
        syncs.request({
          tenantId,
          connectionId,
          entityType,
          source: `webhook:${event.provider}:${event.type}`,
          eventId: event.eventId
        })
      )

    const contactChange = (change: (event: InboxEvent) => Effect.Effect<ContactChange, WebhookHandlerFailed>) =>
      onConnection((tenantId, connectionId, event) =>
        Effect.flatMap(change(event), (c) => contacts.apply(tenantId, connectionId, c))
      )

    const withdrawn = (reasonOf: (event: InboxEvent) => string) =>
      contactChange((event) =>
        Effect.map(required(event, "data", "email"), (email) => ({
          _tag: "ConsentWithdrawn" as const,
          email,
          memberId: field(event.payload, "data", "id"),
          reason: reasonOf(event)
        }))
      )

    const handlers: Record<string, WebhookHandler> = {
      "stripe:account.application.deauthorized": onConnection((tenantId, connectionId) =>
        Effect.flatMap(now, (at) => connections.disconnect(tenantId, connectionId, at))
      ),
      "square:oauth.authorization.revoked": onConnection((tenantId, connectionId) =>
        reauth.markById(tenantId, connectionId, {
          code: "authorization_revoked",
          message: "the merchant revoked the Square authorization; connect again",
          source: "webhook"
        })
      ),
      "mailchimp:unsubscribe": withdrawn(
        (e) => `unsubscribe:${field(e.payload, "data", "reason") ?? field(e.payload, "data", "action") ?? "unknown"}`
      ),
      "mailchimp:cleaned": withdrawn((e) => `cleaned:${field(e.payload, "data", "reason") ?? "unknown"}`),
      "mailchimp:upemail": contactChange((event) =>
        Effect.all({
          oldEmail: required(event, "data", "old_email"),
          newEmail: required(event, "data", "new_email")
        }).pipe(
          Effect.map(({ oldEmail, newEmail }) => ({
            _tag: "EmailChanged" as const,
            oldEmail,
            newEmail,
            memberId: field(event.payload, "data", "new_id")
          }))
        )
      )
    }
    for (const [type, entityType] of stripeSyncEvents) handlers[`stripe:${type}`] = requestSync(entityType)
    for (const [type, entityType] of squareSyncEvents) handlers[`square:${type}`] = requestSync(entityType)
    for (const [entity, entityType] of quickBooksEntities) {
      for (const operation of quickBooksOperations) {
        handlers[`quickbooks:qbo.${entity}.${operation}.v1`] = requestSync(entityType)
      }
    }
    Object.assign(handlers, extra)

    const handle = Effect.fn("WebhookHandlers.handle")(function* (event: InboxEvent) {
      yield* Effect.annotateCurrentSpan({ "webhook.provider": event.provider, "webhook.type": event.type })
      const handler = handlers[`${event.provider}:${event.type}`]
      return handler === undefined ? ("ignored" as const) : yield* handler(event)
    })
    return WebhookHandlers.of({ handle })
  })

  static readonly layer = Layer.effect(this, this.make)
}
