import { Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { EventPublisher, type IntegrationEvent, integrationEventTypes } from "../../ports/EventPublisher.ts"
import { withTenant } from "./TenantTransaction.ts"

const Row = Schema.Struct({
  id: Schema.String,
  tenantId: TenantId,
  type: Schema.Literals(integrationEventTypes),
  connectionId: ConnectionId,
  payload: Schema.Record(Schema.String, Schema.String),
  createdAt: Schema.Date
})
const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/** An outbox: events are rows of `integration_events`, and a NOTIFY on that channel wakes listeners once committed. */
export const PostgresEventPublisher = {
  layer: Layer.effect(
    EventPublisher,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const publish = Effect.fn("PostgresEventPublisher.publish")(function* (event: IntegrationEvent) {
        yield* Effect.annotateCurrentSpan({ "event.type": event.type, "connection.id": event.connectionId })
        yield* Effect.gen(function* () {
          yield* sql`INSERT INTO integration_events (id, tenant_id, type, connection_id, payload, created_at)
            VALUES (${event.id}, ${event.tenantId}, ${event.type}, ${event.connectionId},
              ${JSON.stringify(event.payload)}::jsonb, ${event.occurredAt})`
          yield* sql`SELECT pg_notify('integration_events', ${event.id})`
        }).pipe(withTenant(sql, event.tenantId), Effect.mapError(unavailable))
      })

      const list = Effect.fn("PostgresEventPublisher.list")(function* (tenantId: TenantId) {
        const rows = yield* sql`SELECT id, tenant_id, type, connection_id, payload, created_at FROM integration_events
          ORDER BY created_at, id`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
        const decoded = yield* decodeRows(rows).pipe(
          Effect.mapError(() => new StoreUnavailable({ message: "an integration_events row does not decode" }))
        )
        return decoded.map(({ createdAt, ...event }): IntegrationEvent => ({ ...event, occurredAt: createdAt }))
      })

      return EventPublisher.of({ publish, list })
    })
  )
}
