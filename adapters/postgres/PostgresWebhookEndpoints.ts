import { Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type WebhookEndpoint, WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

export const PostgresWebhookEndpoints = {
  layer: Layer.effect(
    WebhookEndpoints,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const save = Effect.fn("PostgresWebhookEndpoints.save")(function* (e: WebhookEndpoint) {
        yield* sql`INSERT INTO webhook_endpoints (tenant_id, connection_id, provider, public_id, url, provider_endpoint_id,
            events, status)
          VALUES (${e.tenantId}, ${e.connectionId}, ${e.provider}, ${e.publicId}, ${e.url}, ${e.providerEndpointId},
            ${`{${e.events.join(",")}}`}::text[], 'active')
          ON CONFLICT (tenant_id, connection_id) DO UPDATE SET provider = EXCLUDED.provider,
            public_id = EXCLUDED.public_id, url = EXCLUDED.url, provider_endpoint_id = EXCLUDED.provider_endpoint_id,
            events = EXCLUDED.events, status = 'active'`.pipe(withTenant(sql, e.tenantId), Effect.mapError(unavailable))
      })
      const find = Effect.fn("PostgresWebhookEndpoints.find")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        const rows = yield* sql<Omit<WebhookEndpoint, "events"> & { events: ReadonlyArray<string> }>`
          SELECT tenant_id, connection_id, provider, public_id, url, provider_endpoint_id, events
          FROM webhook_endpoints WHERE connection_id = ${connectionId}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
        return Option.fromNullishOr(rows[0])
      })
      const remove = Effect.fn("PostgresWebhookEndpoints.remove")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        yield* sql`DELETE FROM webhook_endpoints WHERE connection_id = ${connectionId}`.pipe(
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
      })
      return WebhookEndpoints.of({ save, find, remove })
    })
  )
} as const
