import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"
import type { Provider } from "../domain/Provider.ts"

/** A webhook endpoint registered at the provider for one connection; `publicId` is the `?endpoint=` of its URL. */
export interface WebhookEndpoint {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly provider: Provider
  readonly publicId: string
  readonly url: string
  readonly providerEndpointId: string
  readonly events: ReadonlyArray<string>
}

/** The endpoints registered for connections (table `webhook_endpoints`); one per connection. */
export class WebhookEndpoints extends Context.Service<
  WebhookEndpoints,
  {
    readonly save: (endpoint: WebhookEndpoint) => Effect.Effect<void, StoreUnavailable>
    readonly find: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<Option.Option<WebhookEndpoint>, StoreUnavailable>
    readonly remove: (tenantId: TenantId, connectionId: ConnectionId) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/WebhookEndpoints") {}
