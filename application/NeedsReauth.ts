import { Clock, Context, Effect, Layer, Option } from "effect"
import type { ConnectionStatus } from "../domain/Connection.ts"
import type { ConnectionId, TenantId, VenueId } from "../domain/Ids.ts"
import { authTypeOf, type Provider } from "../domain/Provider.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { EventPublisher } from "../ports/EventPublisher.ts"
import { TokenStore } from "../ports/TokenStore.ts"

/** The connection that lost its authorization, as the caller last saw it. */
export interface ReauthTarget {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly venueId: VenueId
  readonly provider: Provider
  readonly status: ConnectionStatus
}

/** Why: the provider's code for notifications, a sentence for `last_error`, and which path found out. */
export interface ReauthReason {
  readonly code: string
  readonly message: string
  readonly source: "refresh" | "reconnect" | "health_check" | "webhook" | "settings" | "sync"
}

/**
 * The one way a connection comes to need the venue's authorization again — a refused refresh, a refused key on
 * reconnect, a refused token in a health check, Square's revocation webhook: the status becomes `needs_reauth` with
 * the reason, and `connection.needs_reauth` is published once. Both writes join the caller's transaction when it
 * has one (the refresh lock, the webhook's inbox row); a connection already `needs_reauth` or `disconnected` is
 * left alone and publishes nothing again.
 */
export class NeedsReauth extends Context.Service<NeedsReauth>()("integration-service/application/NeedsReauth", {
  make: Effect.gen(function* () {
    const connections = yield* ConnectionStore
    const tokens = yield* TokenStore
    const events = yield* EventPublisher

    const record = Effect.fnUntraced(function* (target: ReauthTarget, reason: ReauthReason) {
      if (target.status === "needs_reauth" || target.status === "disconnected") return false
      const at = new Date(yield* Clock.currentTimeMillis)
      // An OAuth pair also keeps the reason and stops its background renewal.
      if (authTypeOf(target.provider) === "oauth2")
        yield* tokens.markNeedsReauth(target.tenantId, target.connectionId, reason.message, at)
      else yield* connections.setStatus(target.tenantId, target.connectionId, "needs_reauth", reason.message, at)
      yield* events.publish({
        id: crypto.randomUUID(),
        tenantId: target.tenantId,
        type: "connection.needs_reauth",
        connectionId: target.connectionId,
        payload: { provider: target.provider, venueId: target.venueId, reason: reason.code, source: reason.source },
        occurredAt: at
      })
      return true
    })

    /** Marks `target` needs_reauth and publishes; answers whether it changed anything. */
    const mark = Effect.fn("NeedsReauth.mark")(function* (target: ReauthTarget, reason: ReauthReason) {
      yield* Effect.annotateCurrentSpan({
        "connection.id": target.connectionId,
        provider: target.provider,
        "reauth.source": reason.source
      })
      return yield* record(target, reason)
    })

    /** The same for a connection known only by its id (a webhook), read in the caller's transaction. */
    const markById = Effect.fn("NeedsReauth.markById")(function* (
      tenantId: TenantId,
      connectionId: ConnectionId,
      reason: ReauthReason
    ) {
      yield* Effect.annotateCurrentSpan({ "connection.id": connectionId, "reauth.source": reason.source })
      const found = (yield* connections.list(tenantId, Option.none())).find((c) => c.id === connectionId)
      return found === undefined ? false : yield* record({ ...found, connectionId: found.id }, reason)
    })

    return { mark, markById }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
