import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { CallActivity, SyncActivity, WebhookActivity } from "../../domain/operations/MetricsReport.ts"
import { type ActivityQuery, ConnectionActivity } from "../../ports/operations/ConnectionActivity.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/**
 * One connection's activity under the tenant's row-level security, three grouped reads in one transaction: the
 * ledger (the hourly rollup for hourly buckets, the daily one for daily buckets), sync_jobs by creation time and
 * webhook_events by arrival, each through a covering index that starts with tenant and connection (0012, 0018).
 */
export const PostgresConnectionActivity = {
  layer: Layer.effect(
    ConnectionActivity,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      // Histograms are summed set-wise (unnest by position, then one array per group): an aggregate calling a
      // function per row costs ~0.1 ms a row, which 1,440 minute rows of a day would turn into the whole budget
      // (24 hours are read from the hourly rollup for that reason).
      const calls = (q: ActivityQuery) => {
        const rows =
          q.granularity === "hour"
            ? sql`SELECT hour AS start, outcome, calls, latency_ms, latency_max_ms, latency_buckets, bytes
                FROM provider_call_hours
                WHERE tenant_id = ${q.tenantId} AND connection_id = ${q.connectionId}
                  AND hour >= date_trunc('hour', ${q.from}::timestamptz, 'UTC') AND hour <= ${q.to}`
            : sql`SELECT day::timestamp AT TIME ZONE 'UTC' AS start, outcome, calls, latency_ms, latency_max_ms,
                  latency_buckets, bytes
                FROM provider_call_days
                WHERE tenant_id = ${q.tenantId} AND connection_id = ${q.connectionId}
                  AND day >= (${q.from}::timestamptz AT TIME ZONE 'UTC')::date
                  AND day <= (${q.to}::timestamptz AT TIME ZONE 'UTC')::date`
        return sql<CallActivity>`WITH rows AS MATERIALIZED (${rows}),
          totals AS (
            SELECT start, outcome, sum(calls)::float8 AS calls, sum(latency_ms)::float8 AS latency_ms,
              max(latency_max_ms) AS latency_max_ms, sum(bytes)::float8 AS bytes
            FROM rows GROUP BY 1, 2
          ),
          histograms AS (
            SELECT start, outcome, array_agg(n ORDER BY i) AS buckets
            FROM (
              SELECT start, outcome, u.i, sum(u.n)::int AS n
              FROM rows, unnest(latency_buckets) WITH ORDINALITY AS u(n, i)
              GROUP BY 1, 2, 3
            ) AS by_bucket
            GROUP BY 1, 2
          )
          SELECT t.start, t.outcome, t.calls, t.latency_ms, t.latency_max_ms, h.buckets, t.bytes
          FROM totals t JOIN histograms h USING (start, outcome)`
      }

      const syncs = (q: ActivityQuery) =>
        sql<SyncActivity>`SELECT date_trunc(${q.granularity}, created_at, 'UTC') AS start,
            count(*) FILTER (WHERE started_at IS NOT NULL)::int AS runs,
            count(*) FILTER (WHERE status IN ('failed', 'dead'))::int AS failed,
            coalesce(sum(fetched), 0)::float8 AS records
          FROM sync_jobs
          WHERE tenant_id = ${q.tenantId} AND connection_id = ${q.connectionId}
            AND created_at >= ${q.from} AND created_at <= ${q.to}
          GROUP BY 1`

      const webhooks = (q: ActivityQuery) =>
        sql<WebhookActivity>`SELECT date_trunc(${q.granularity}, received_at, 'UTC') AS start,
            count(*)::int AS received,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'dead')::int AS dead
          FROM webhook_events
          WHERE tenant_id = ${q.tenantId} AND connection_id = ${q.connectionId}
            AND received_at >= ${q.from} AND received_at <= ${q.to}
          GROUP BY 1`

      return ConnectionActivity.of({
        read: Effect.fn("ConnectionActivity.read")(function* (q: ActivityQuery) {
          return yield* Effect.all({ calls: calls(q), syncs: syncs(q), webhooks: webhooks(q) }).pipe(
            withTenant(sql, q.tenantId),
            Effect.mapError(unavailable)
          )
        })
      })
    })
  )
} as const
