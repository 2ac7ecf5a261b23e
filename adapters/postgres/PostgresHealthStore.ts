import { Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { HealthReason, type HealthSample, HealthState, ProbeOutcome } from "../../domain/health/HealthRules.ts"
import { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import { Provider } from "../../domain/Provider.ts"
import { EventPublisher } from "../../ports/EventPublisher.ts"
import {
  type DueCheck,
  type HealthDecision,
  type HealthRecord,
  HealthStore,
  type PlatformNotification,
  type ProviderStatus
} from "../../ports/operations/HealthStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })
const corrupt = (what: string) => () => new StoreUnavailable({ message: `a ${what} row does not decode` })

const DueRow = Schema.Struct({ tenantId: TenantId, connectionId: ConnectionId, venueId: VenueId, provider: Provider })
const SampleRow = Schema.Struct({ outcome: ProbeOutcome, latencyMs: Schema.Number, checkedAt: Schema.Date })
const StateRow = Schema.Struct({
  status: HealthState,
  notifiedStatus: Schema.NullOr(HealthState),
  reasons: Schema.Array(HealthReason),
  consecutiveFailures: Schema.Number,
  errorRate: Schema.NullOr(Schema.Number),
  p95LatencyMs: Schema.NullOr(Schema.Number),
  credentialExpiresAt: Schema.NullOr(Schema.Date),
  since: Schema.Date,
  updatedAt: Schema.Date
})
const CountsRow = Schema.Struct({ provider: Provider, connections: Schema.Number, failing: Schema.Number })
const StatusRow = Schema.Struct({ provider: Provider, status: Schema.Literals(["operational", "outage"]) })

/** Checks kept per connection: a few windows' worth, for the window and for looking back a little. */
const keptChecks = 100

const stateColumns = `status, notified_status, reasons, consecutive_failures, error_rate, p95_latency_ms,
  credential_expires_at, since, updated_at`

/**
 * The health monitor's tables: per tenant (checks, states) under the tenant's transaction, across tenants only
 * through migration 0013's SECURITY DEFINER functions. A decision's event is published through the EventPublisher
 * inside the same transaction, so a status and its event commit together.
 */
export const PostgresHealthStore = {
  layer: Layer.effect(
    HealthStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const events = yield* EventPublisher

      const claimDue = Effect.fn("PostgresHealthStore.claimDue")(function* (intervalMillis: number, limit: number) {
        const rows = yield* sql`SELECT tenant_id, connection_id, venue_id, provider
          FROM app_claim_due_health_checks(${`${Math.max(0, Math.round(intervalMillis))} milliseconds`}::interval, ${limit})`.pipe(
          Effect.mapError(unavailable)
        )
        return yield* Schema.decodeUnknownEffect(Schema.Array(DueRow))(rows).pipe(
          Effect.mapError(corrupt("app_claim_due_health_checks"))
        )
      })

      const readState = (connectionId: ConnectionId, lock: boolean) =>
        Effect.gen(function* () {
          const rows = lock
            ? yield* sql`SELECT ${sql.literal(stateColumns)} FROM connection_health_states
                WHERE connection_id = ${connectionId} FOR UPDATE`
            : yield* sql`SELECT ${sql.literal(stateColumns)} FROM connection_health_states
                WHERE connection_id = ${connectionId}`
          if (rows[0] === undefined) return Option.none<HealthRecord>()
          return Option.some<HealthRecord>(
            yield* Schema.decodeUnknownEffect(StateRow)(rows[0]).pipe(
              Effect.mapError(corrupt("connection_health_states"))
            )
          )
        })

      const record = Effect.fn("PostgresHealthStore.record")(function* (
        due: DueCheck,
        sample: HealthSample | null,
        windowSize: number,
        decide: (previous: Option.Option<HealthRecord>, window: ReadonlyArray<HealthSample>) => HealthDecision
      ) {
        yield* Effect.annotateCurrentSpan({ "connection.id": due.connectionId, provider: due.provider })
        return yield* Effect.gen(function* () {
          // The state row's lock orders concurrent checks of one connection (an on-demand check and the monitor).
          const previous = yield* readState(due.connectionId, true)
          if (sample !== null) {
            yield* sql`INSERT INTO health_checks (tenant_id, connection_id, provider, outcome, latency_ms, checked_at)
              VALUES (${due.tenantId}, ${due.connectionId}, ${due.provider}, ${sample.outcome}, ${sample.latencyMs}, ${sample.at})`
            yield* sql`DELETE FROM health_checks WHERE connection_id = ${due.connectionId} AND id IN (
              SELECT id FROM health_checks WHERE connection_id = ${due.connectionId}
              ORDER BY checked_at DESC, id DESC OFFSET ${keptChecks})`
          }
          const rows = yield* sql`SELECT outcome, latency_ms, checked_at FROM health_checks
            WHERE connection_id = ${due.connectionId} ORDER BY checked_at DESC, id DESC LIMIT ${windowSize}`
          const window = (yield* Schema.decodeUnknownEffect(Schema.Array(SampleRow))(rows).pipe(
            Effect.mapError(corrupt("health_checks"))
          ))
            .map((r): HealthSample => ({ outcome: r.outcome, latencyMs: r.latencyMs, at: r.checkedAt }))
            .reverse()
          const decision = decide(previous, window)
          const n = decision.next
          yield* sql`INSERT INTO connection_health_states (tenant_id, connection_id, status, notified_status, reasons,
              consecutive_failures, error_rate, p95_latency_ms, credential_expires_at, since, updated_at)
            VALUES (${due.tenantId}, ${due.connectionId}, ${n.status}, ${n.notifiedStatus},
              ${`{${n.reasons.join(",")}}`}::text[], ${n.consecutiveFailures}, ${n.errorRate}, ${n.p95LatencyMs},
              ${n.credentialExpiresAt}, ${n.since}, ${n.updatedAt})
            ON CONFLICT (tenant_id, connection_id) DO UPDATE SET status = EXCLUDED.status,
              notified_status = EXCLUDED.notified_status, reasons = EXCLUDED.reasons,
              consecutive_failures = EXCLUDED.consecutive_failures, error_rate = EXCLUDED.error_rate,
              p95_latency_ms = EXCLUDED.p95_latency_ms, credential_expires_at = EXCLUDED.credential_expires_at,
              since = EXCLUDED.since, updated_at = EXCLUDED.updated_at`
          if (decision.event !== null) yield* events.publish(decision.event)
          return decision
        }).pipe(
          withTenant(sql, due.tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const state = Effect.fn("PostgresHealthStore.state")(function* (tenantId: TenantId, connectionId: ConnectionId) {
        return yield* readState(connectionId, false).pipe(
          withTenant(sql, tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const providerWindow = Effect.fn("PostgresHealthStore.providerWindow")(function* (since: Date) {
        const rows = yield* sql`SELECT provider, connections, failing FROM app_provider_health_window(${since})`.pipe(
          Effect.mapError(unavailable)
        )
        return yield* Schema.decodeUnknownEffect(Schema.Array(CountsRow))(rows).pipe(
          Effect.mapError(corrupt("app_provider_health_window"))
        )
      })

      const providerStatuses = Effect.fn("PostgresHealthStore.providerStatuses")(function* () {
        const rows = yield* sql`SELECT provider, status FROM provider_health`.pipe(Effect.mapError(unavailable))
        const decoded = yield* Schema.decodeUnknownEffect(Schema.Array(StatusRow))(rows).pipe(
          Effect.mapError(corrupt("provider_health"))
        )
        return new Map(decoded.map((r) => [r.provider, r.status] as const))
      })

      const setProviderStatus = Effect.fn("PostgresHealthStore.setProviderStatus")(function* (
        provider: Provider,
        status: ProviderStatus,
        notification: PlatformNotification
      ) {
        const rows = yield* sql<{ changed: boolean }>`SELECT app_set_provider_status(${provider}, ${status},
          ${notification.id}, ${notification.type}, ${notification.body}) AS changed`.pipe(Effect.mapError(unavailable))
        return rows[0]?.changed === true
      })

      return HealthStore.of({ claimDue, record, state, providerWindow, providerStatuses, setProviderStatus })
    })
  )
}
