import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import {
  type DueConnection,
  type JobToRequeue,
  SyncSchedule,
  type TakenRequest
} from "../../ports/sync/SyncSchedule.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/** The cross-tenant reads of the scheduler, each a SECURITY DEFINER function of migration 0011 and nothing more. */
export const PostgresSyncSchedule = {
  layer: Layer.effect(
    SyncSchedule,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return SyncSchedule.of({
        claimDue: Effect.fn("SyncSchedule.claimDue")(function* (intervalMillis: number, limit: number) {
          const rows = yield* sql`SELECT * FROM app_claim_due_syncs(${intervalMillis} * interval '1 millisecond',
            ${limit})`.pipe(Effect.mapError(unavailable))
          return rows as unknown as ReadonlyArray<DueConnection>
        }),
        takeRequests: Effect.fn("SyncSchedule.takeRequests")(function* (limit: number) {
          const rows = yield* sql`SELECT * FROM app_take_sync_requests(${limit})`.pipe(Effect.mapError(unavailable))
          return rows as unknown as ReadonlyArray<TakenRequest>
        }),
        reconnected: Effect.fn("SyncSchedule.reconnected")(function* (limit: number) {
          const rows = yield* sql`SELECT * FROM app_reconnected_with_paused_syncs(${limit})`.pipe(
            Effect.mapError(unavailable)
          )
          return rows as unknown as ReadonlyArray<DueConnection>
        }),
        jobsToRequeue: Effect.fn("SyncSchedule.jobsToRequeue")(function* (staleMillis: number, limit: number) {
          const rows = yield* sql`SELECT tenant_id, id AS job_id, priority, status
            FROM app_sync_jobs_to_requeue(${staleMillis} * interval '1 millisecond', ${limit})`.pipe(
            Effect.mapError(unavailable)
          )
          return rows as unknown as ReadonlyArray<JobToRequeue>
        })
      })
    })
  )
} as const
