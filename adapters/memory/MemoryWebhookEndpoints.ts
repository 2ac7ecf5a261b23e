import { Effect, Layer } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type WebhookEndpoint, WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import { MemoryWebhookRoutes } from "./MemoryWebhookRoutes.ts"

/** Registered endpoints kept in the memory routing tables, so the memory inbox routes by them. */
export const MemoryWebhookEndpoints = {
  layer: Layer.effect(
    WebhookEndpoints,
    Effect.gen(function* () {
      const routes = yield* MemoryWebhookRoutes
      return WebhookEndpoints.of({
        save: Effect.fn("MemoryWebhookEndpoints.save")(function* (endpoint: WebhookEndpoint) {
          yield* routes.saveEndpoint(endpoint)
        }),
        find: Effect.fn("MemoryWebhookEndpoints.find")(function* (tenantId: TenantId, connectionId: ConnectionId) {
          return yield* routes.findEndpoint(tenantId, connectionId)
        }),
        remove: Effect.fn("MemoryWebhookEndpoints.remove")(function* (tenantId: TenantId, connectionId: ConnectionId) {
          yield* routes.removeEndpoint(tenantId, connectionId)
        })
      })
    })
  )
}
