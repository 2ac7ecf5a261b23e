import { Context, Effect, Layer, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { WebhookEndpoint } from "../../ports/WebhookEndpoints.ts"
import type { EndpointRoute } from "../../ports/WebhookInbox.ts"

/** What routing needs to know of a connection. */
export type RoutableConnection = Pick<Connection, "id" | "tenantId" | "venueId" | "provider" | "accountId">

export interface AccountRoute {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
}

const key = (tenantId: TenantId, connectionId: ConnectionId) => `${tenantId}|${connectionId}`

/**
 * The cross-tenant tables webhook routing reads, in memory: connections (by provider account) and registered
 * endpoints (by public id), as `connections` and `webhook_endpoints` are to the PostgreSQL router. The memory
 * WebhookEndpoints keeps its endpoints here; connections are made known explicitly with `connection`.
 */
export class MemoryWebhookRoutes extends Context.Service<
  MemoryWebhookRoutes,
  {
    /** Makes a connection routable, or updates what routing knows of it (same id). */
    readonly connection: (connection: RoutableConnection) => Effect.Effect<void>
    /** One endpoint per connection; a public id belongs to one connection only. */
    readonly saveEndpoint: (endpoint: WebhookEndpoint) => Effect.Effect<void, StoreUnavailable>
    readonly findEndpoint: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<Option.Option<WebhookEndpoint>>
    readonly removeEndpoint: (tenantId: TenantId, connectionId: ConnectionId) => Effect.Effect<void>
    /** The connection a registered endpoint belongs to, if both are known. */
    readonly byEndpoint: (provider: Provider, publicId: string) => Option.Option<EndpointRoute>
    /** Every connection that proved the provider account. */
    readonly byAccount: (provider: Provider, accountId: string) => ReadonlyArray<AccountRoute>
  }
>()("integration-service/adapters/memory/MemoryWebhookRoutes") {
  static readonly layer = Layer.sync(MemoryWebhookRoutes, () => {
    const connections = new Map<string, RoutableConnection>()
    const endpoints = new Map<string, WebhookEndpoint>()

    const byEndpoint = (provider: Provider, publicId: string) => {
      const endpoint = [...endpoints.values()].find((e) => e.publicId === publicId && e.provider === provider)
      if (endpoint === undefined) return Option.none<EndpointRoute>()
      const c = connections.get(key(endpoint.tenantId, endpoint.connectionId))
      return c === undefined
        ? Option.none<EndpointRoute>()
        : Option.some<EndpointRoute>({ tenantId: c.tenantId, connectionId: c.id, venueId: c.venueId })
    }

    const byAccount = (provider: Provider, accountId: string): ReadonlyArray<AccountRoute> =>
      [...connections.values()]
        .filter((c) => c.provider === provider && c.accountId === accountId)
        .map((c) => ({ tenantId: c.tenantId, connectionId: c.id }))

    return MemoryWebhookRoutes.of({
      connection: (c) =>
        Effect.sync(() => {
          connections.set(key(c.tenantId, c.id), {
            id: c.id,
            tenantId: c.tenantId,
            venueId: c.venueId,
            provider: c.provider,
            accountId: c.accountId
          })
        }),
      saveEndpoint: (endpoint) =>
        Effect.suspend(() => {
          const k = key(endpoint.tenantId, endpoint.connectionId)
          for (const [other, e] of endpoints)
            if (other !== k && e.publicId === endpoint.publicId)
              return Effect.fail(new StoreUnavailable({ message: "the endpoint's public id is already taken" }))
          endpoints.set(k, { ...endpoint, events: [...endpoint.events] })
          return Effect.void
        }),
      findEndpoint: (tenantId, connectionId) =>
        Effect.sync(() => Option.fromNullishOr(endpoints.get(key(tenantId, connectionId)))),
      removeEndpoint: (tenantId, connectionId) =>
        Effect.sync(() => {
          endpoints.delete(key(tenantId, connectionId))
        }),
      byEndpoint,
      byAccount
    })
  })
}
