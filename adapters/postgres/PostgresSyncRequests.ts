import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { type SyncRequest, SyncRequests } from "../../ports/SyncRequests.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

export const PostgresSyncRequests = {
  layer: Layer.effect(
    SyncRequests,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const request = Effect.fn("PostgresSyncRequests.request")(function* (r: SyncRequest) {
        yield* sql`INSERT INTO sync_requests (tenant_id, connection_id, entity_type, source, last_event_id)
          VALUES (${r.tenantId}, ${r.connectionId}, ${r.entityType}, ${r.source}, ${r.eventId})
          ON CONFLICT (tenant_id, connection_id, entity_type) DO UPDATE SET
            status = 'pending', source = EXCLUDED.source, last_event_id = EXCLUDED.last_event_id,
            events = sync_requests.events + 1, updated_at = now()`.pipe(
          withTenant(sql, r.tenantId),
          Effect.mapError(unavailable)
        )
      })
      return SyncRequests.of({ request })
    })
  )
} as const
