import { Schema } from "effect"
import { ConnectionId, TenantId } from "./Ids.ts"

export const HealthStatus = Schema.Literals(["healthy", "degraded", "unhealthy", "unknown"])
export type HealthStatus = typeof HealthStatus.Type

export class HealthCheck extends Schema.Class<HealthCheck>("HealthCheck")({
  tenantId: TenantId,
  connectionId: ConnectionId,
  ok: Schema.Boolean,
  latencyMs: Schema.Number,
  error: Schema.NullOr(Schema.String),
  checkedAt: Schema.Date
}) {}

export class ConnectionHealth extends Schema.Class<ConnectionHealth>("ConnectionHealth")({
  connectionId: ConnectionId,
  status: HealthStatus,
  consecutiveFailures: Schema.Number,
  lastCheckAt: Schema.NullOr(Schema.Date),
  lastSuccessAt: Schema.NullOr(Schema.Date),
  lastError: Schema.NullOr(Schema.String),
  lastLatencyMs: Schema.NullOr(Schema.Number)
}) {}

/** Three failures in a row make a connection unhealthy; one makes it degraded. */
export const statusAfter = (consecutiveFailures: number): HealthStatus =>
  consecutiveFailures === 0 ? "healthy" : consecutiveFailures < 3 ? "degraded" : "unhealthy"

/** The health after one more check: failures count up until a success resets them. */
export const afterCheck = (before: ConnectionHealth | undefined, check: HealthCheck): ConnectionHealth => {
  const consecutiveFailures = check.ok ? 0 : (before?.consecutiveFailures ?? 0) + 1
  return new ConnectionHealth({
    connectionId: check.connectionId,
    status: statusAfter(consecutiveFailures),
    consecutiveFailures,
    lastCheckAt: check.checkedAt,
    lastSuccessAt: check.ok ? check.checkedAt : (before?.lastSuccessAt ?? null),
    lastError: check.error,
    lastLatencyMs: check.latencyMs
  })
}
