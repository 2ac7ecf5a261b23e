import { type Duration, Effect, Layer } from "effect"
import { PersistedQueue } from "effect/persistence"
import { SqlClient, type SqlError } from "effect/sql"
import { type DeadLetter, QueueDeadLetters } from "../../ports/QueueDeadLetters.ts"

const tableName = "queue_elements"

export interface PostgresQueueStoreOptions {
  readonly pollInterval?: Duration.Input | undefined
  readonly lockRefreshInterval?: Duration.Input | undefined
  readonly lockExpiration?: Duration.Input | undefined
}

const queueError = (message: string) => (cause: SqlError.SqlError) =>
  new PersistedQueue.PersistedQueueError({ message, cause })

const makeDeadLetters = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const table = sql(tableName)
  const requeue = (name: string, id: string | undefined) =>
    sql<{ readonly id: string }>`
      UPDATE ${table}
      SET state = 'pending', attempts = 0, visible_at = NOW(), acquired_at = NULL, acquired_by = NULL, updated_at = NOW()
      WHERE queue_name = ${name} AND state = 'failed' ${id === undefined ? sql`` : sql`AND id = ${id}`}
      RETURNING id
    `
  return QueueDeadLetters.of({
    list: (name, options) =>
      sql<{
        readonly id: string
        readonly element: string
        readonly attempts: number
        readonly last_failure: string | null
        readonly failed_at_ms: number
      }>`
        SELECT id, element, attempts, last_failure,
          (extract(epoch FROM updated_at AT TIME ZONE current_setting('TimeZone')) * 1000)::float8 AS failed_at_ms
        FROM ${table}
        WHERE queue_name = ${name} AND state = 'failed'
        ORDER BY updated_at DESC, sequence DESC
        LIMIT ${Math.max(1, options?.limit ?? 100)}
      `.pipe(
        Effect.map((rows) =>
          rows.map(
            (row): DeadLetter => ({
              id: row.id,
              element: JSON.parse(row.element),
              attempts: Number(row.attempts),
              reason: row.last_failure ?? "",
              failedAt: new Date(Number(row.failed_at_ms))
            })
          )
        ),
        Effect.mapError(queueError("Failed to list dead letters")),
        Effect.withSpan("PostgresQueueStore.listDeadLetters", { attributes: { "queue.name": name } })
      ),
    retry: (name, id) =>
      requeue(name, id).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(queueError("Failed to re-queue dead letter")),
        Effect.withSpan("PostgresQueueStore.retryDeadLetter", { attributes: { "queue.name": name } })
      ),
    retryAll: (name) =>
      requeue(name, undefined).pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(queueError("Failed to re-queue dead letters")),
        Effect.withSpan("PostgresQueueStore.retryAllDeadLetters", { attributes: { "queue.name": name } })
      )
  })
})

/**
 * Effect's SQL `PersistedQueueStore` on table `queue_elements` (the embedded
 * default), plus `QueueDeadLetters` over the
 * same table. Its tables come from migrations/0008_queue_elements.sql, run by
 * the owner: the service role cannot create them. Delays are whole seconds
 * (database clock).
 */
const layer = (
  options: PostgresQueueStoreOptions = {}
): Layer.Layer<PersistedQueue.PersistedQueueStore | QueueDeadLetters, SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.merge(PersistedQueue.layerStoreSql({ ...options, tableName }), Layer.effect(QueueDeadLetters, makeDeadLetters))

export const PostgresQueueStore = { layer, tableName } as const
