import { Context, Effect, Layer, type Option } from "effect"
import { Forbidden } from "../domain/Errors.ts"
import type { Principal } from "../domain/Principal.ts"
import type { Provider } from "../domain/Provider.ts"
import { type EventFilter, WebhookInbox } from "../ports/WebhookInbox.ts"
import { messageId, WebhookQueue } from "../ports/WebhookQueue.ts"

/** Events span every venue of a provider account, so only tenant admins see or retry them. */
const requireAdmin = (principal: Principal) =>
  principal.role === "admin"
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `role ${principal.role} may not see or retry webhook events` }))

/** Webhook history and manual retry, scoped to the caller's tenant. */
export class WebhookEvents extends Context.Service<WebhookEvents>()("integration-service/application/WebhookEvents", {
  make: Effect.gen(function* () {
    const inbox = yield* WebhookInbox
    const queue = yield* WebhookQueue

    const list = Effect.fn("WebhookEvents.list")(function* (
      principal: Principal,
      provider: Provider,
      filter: EventFilter
    ) {
      yield* requireAdmin(principal)
      return yield* inbox.list(principal.tenantId, provider, filter)
    })

    /**
     * Failed or dead events (one, or all of the provider) back to `received` and onto the queue under a new message
     * id. Should the queue be down, the reconciler offers them later; they are counted either way.
     */
    const retry = Effect.fn("WebhookEvents.retry")(function* (
      principal: Principal,
      provider: Provider,
      id: Option.Option<string>
    ) {
      yield* requireAdmin(principal)
      const rows = yield* inbox.requeue(principal.tenantId, provider, id)
      yield* Effect.forEach(
        rows,
        (row) =>
          queue
            .offer(
              { inboxId: row.id, tenantId: row.tenantId, provider: row.provider, traceParent: row.traceParent },
              messageId(row.id, row.requeues)
            )
            .pipe(Effect.catch((error) => Effect.logWarning("webhook retry left to the reconciler", error.message))),
        { concurrency: 16, discard: true }
      )
      return rows.map((row) => row.id)
    })

    return { list, retry }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
