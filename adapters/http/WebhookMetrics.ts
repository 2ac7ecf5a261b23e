/**
 * A webhook delivery's answer as `webhook_deliveries_total{provider,outcome}` (and its events as
 * `webhook_events_total`): read off the reply `receiveWebhook` built, so both HTTP stacks (the Node fast path and
 * the router's raw routes) count the same way, signature refusals included.
 */
import type { Effect } from "effect"
import { recordWebhookDelivery, type WebhookOutcome } from "../../application/Metrics.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { WebhookReply } from "./WebhookReceive.ts"

const count = (body: object | undefined, field: "stored" | "duplicates" | "unroutable") => {
  const value = body === undefined ? undefined : (body as Record<string, unknown>)[field]
  return typeof value === "number" ? value : 0
}

const refusals: Record<number, WebhookOutcome> = { 400: "malformed", 401: "unauthorized", 429: "rate_limited" }

export const recordWebhookReply = (provider: Provider, reply: WebhookReply): Effect.Effect<void> => {
  if (reply.status !== 200) return recordWebhookDelivery(provider, refusals[reply.status] ?? "unavailable")
  const events = {
    stored: count(reply.body, "stored"),
    duplicates: count(reply.body, "duplicates"),
    unroutable: count(reply.body, "unroutable")
  }
  const outcome = events.stored > 0 ? "accepted" : events.duplicates > 0 ? "duplicate" : "unroutable"
  return recordWebhookDelivery(provider, outcome, events)
}
