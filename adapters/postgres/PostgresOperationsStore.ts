import { Effect, Layer } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { TenantId } from "../../domain/Ids.ts"
import {
  type CostRow,
  type DeadLetterRow,
  OperationsStore,
  type OpsScope
} from "../../ports/operations/OperationsStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })
const orNull = <A>(value: A | undefined): A | null => value ?? null
const count = (n: unknown) => Number(n ?? 0)

/**
 * The admin read models of migration 0015 and the writes of the admin routes. A tenant's read runs the invoker
 * function inside its tenant transaction (RLS); the operator's runs its `_all` variant, owned by a role that may
 * only read the four tables these views need. Writes always run in one tenant's transaction.
 */
export const PostgresOperationsStore = {
  layer: Layer.effect(
    OperationsStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      /** `name` for a tenant, `name_all` for every tenant; both called as the service role. */
      const read = <A extends object>(scope: OpsScope, name: string, args: (f: string) => Statement.Statement<A>) =>
        (scope._tag === "tenant"
          ? args(name).pipe(withTenant(sql, scope.tenantId))
          : sql.withTransaction(
              sql`SELECT set_config('role', 'integration_app', true)`.pipe(Effect.andThen(args(`${name}_all`)))
            )
        ).pipe(Effect.mapError(unavailable))
      const fn = (name: string) => sql.literal(name)

      return OperationsStore.of({
        venues: Effect.fn("OperationsStore.venues")(function* (scope, filter) {
          const rows = yield* read(
            scope,
            "ops_venues",
            (f) => sql`SELECT * FROM ${fn(f)}(${orNull(filter.provider)}, ${orNull(filter.status)},
              ${orNull(filter.healthStatus)}, ${orNull(filter.after?.tenantId)}::uuid,
              ${orNull(filter.after?.connectionId)}::uuid, ${filter.limit})`
          )
          return rows as never
        }),
        healthSummary: Effect.fn("OperationsStore.healthSummary")(function* (scope) {
          const rows = yield* read(scope, "ops_health_summary", (f) => sql`SELECT * FROM ${fn(f)}()`)
          return rows.map((r: any) => ({ ...r, connections: count(r.connections) }))
        }),
        jobs: Effect.fn("OperationsStore.jobs")(function* (scope, filter) {
          const rows = yield* read(
            scope,
            "ops_sync_jobs",
            (
              f
            ) => sql`SELECT * FROM ${fn(f)}(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(filter.statuses)}::jsonb)),
              ${orNull(filter.provider)}, ${orNull(filter.priority)}, ${orNull(filter.createdBefore)}::timestamptz,
              ${filter.staleMillis === undefined ? null : filter.staleMillis} * interval '1 millisecond',
              ${filter.limit})`
          )
          return rows as never
        }),
        webhookDead: Effect.fn("OperationsStore.webhookDead")(function* (scope, filter) {
          const rows = yield* read(
            scope,
            "ops_webhook_dead",
            (f) => sql`SELECT * FROM ${fn(f)}(${orNull(filter.provider)}, ${orNull(filter.before)}::timestamptz,
              ${filter.limit})`
          )
          return rows as never
        }),
        queueDepth: Effect.fn("OperationsStore.queueDepth")(function* (scope) {
          const rows = yield* read(scope, "ops_queue_depth", (f) => sql`SELECT * FROM ${fn(f)}()`)
          return rows.map((r: any) => ({ ...r, depth: count(r.depth) }))
        }),
        throughput: Effect.fn("OperationsStore.throughput")(function* (scope, since) {
          const rows = yield* read(scope, "ops_throughput", (f) => sql`SELECT * FROM ${fn(f)}(${since})`)
          const r: any = rows[0] ?? {}
          return {
            jobsFinished: count(r.jobsFinished),
            recordsFetched: count(r.recordsFetched),
            syncDead: count(r.syncDead),
            webhookDead: count(r.webhookDead)
          }
        }),
        costs: Effect.fn("OperationsStore.costs")(function* (scope, range, groupBy) {
          const rows = yield* read(
            scope,
            "ops_costs",
            (f) => sql`SELECT * FROM ${fn(f)}(${range.from}::date, ${range.to}::date, ${groupBy})`
          )
          return rows.map(
            (r: any): CostRow => ({
              key: r.key,
              tenantId: r.tenantId,
              apiCalls: count(r.apiCalls),
              quotaCalls: count(r.quotaCalls),
              workerMillis: count(r.workerMillis),
              costMicros: count(r.costMicros)
            })
          )
        }),
        deadLetters: Effect.fn("OperationsStore.deadLetters")(function* (scope, limit) {
          const rows = yield* read(scope, "ops_dead_letters", (f) => sql`SELECT * FROM ${fn(f)}(${limit})`)
          return rows.map(
            (r: any): DeadLetterRow => ({
              kind: r.kind,
              tenantId: r.tenantId,
              id: r.id,
              provider: r.provider,
              reason: r.reason,
              failedAt: r.failedAt,
              review: r.reviewNote === null ? null : { note: r.reviewNote, by: r.reviewedBy, at: r.reviewedAt }
            })
          )
        }),
        cancelJobs: Effect.fn("OperationsStore.cancelJobs")(function* (tenantId: TenantId, ids) {
          if (ids.length === 0) return 0
          const rows = yield* sql`UPDATE sync_jobs SET status = 'cancelled', finished_at = now(), claim = NULL
            WHERE id IN ${sql.in(ids as Array<string>)} AND status IN ('queued', 'failed', 'dead', 'paused')
            RETURNING id`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
          return rows.length
        }),
        discardWebhooks: Effect.fn("OperationsStore.discardWebhooks")(function* (tenantId: TenantId, ids, by) {
          if (ids.length === 0) return 0
          const rows = yield* sql`UPDATE webhook_events
            SET status = 'ignored', last_error = coalesce(last_error, '') || ' (discarded by ' || ${by} || ')'
            WHERE id IN ${sql.in(ids as Array<string>)} AND status = 'dead'
            RETURNING id`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
          return rows.length
        }),
        review: Effect.fn("OperationsStore.review")(function* (tenantId: TenantId, kind, id, note, by) {
          const table = sql.literal(kind === "sync" ? "sync_jobs" : "webhook_events")
          const rows = yield* sql`UPDATE ${table} SET review_note = ${note}, reviewed_by = ${by}, reviewed_at = now()
            WHERE id = ${id}::uuid AND status = 'dead' RETURNING id`.pipe(
            withTenant(sql, tenantId),
            Effect.mapError(unavailable)
          )
          return rows.length > 0
        }),
        recordAction: Effect.fn("OperationsStore.recordAction")(function* (action) {
          yield* sql`SELECT set_config('role', 'integration_app', true)`.pipe(
            Effect.andThen(
              sql`INSERT INTO operator_actions (actor, actor_role, actor_tenant, scope_tenant, action, request, result)
                VALUES (${action.actor}, ${action.actorRole}, ${action.actorTenant}, ${action.scopeTenant},
                  ${action.action}, ${JSON.stringify(action.request)}::jsonb, ${JSON.stringify(action.result)}::jsonb)`
            ),
            sql.withTransaction,
            Effect.mapError(unavailable)
          )
        })
      })
    })
  )
} as const
