import { type Duration, Effect, Layer } from "effect"
import { PersistedQueue } from "effect/persistence"
import { SqlClient, type SqlError } from "effect/sql"
import { type DeadLetter, QueueDeadLetters } from "../redis/RedisStreamsQueueStore.ts"

const tableName = "queue_elements"

/**
 * The store's tables, created by the owner: `layerStoreSql` would create them
 * at start-up, which the service role may not do. Its own migrations are
 * recorded as applied, so its migrator finds nothing left to run (it only
 * locks `queue_elements_migrations`, hence UPDATE there). The schema is that of
 * effect 4.1.0's migrations 0001 + 0002. A platform table, not a tenant one:
 * no tenant_id, no row-level security. Idempotent.
 */
const migrationSql = `-- PersistedQueue.layerStoreSql({ tableName: "queue_elements" }), created by the owner
-- because the service role cannot CREATE; a platform table (no tenant_id, no RLS).
CREATE TABLE IF NOT EXISTS queue_elements (
  sequence BIGSERIAL PRIMARY KEY,
  id VARCHAR(255) NOT NULL,
  queue_name VARCHAR(255) NOT NULL,
  element TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_failure TEXT NULL,
  acquired_at TIMESTAMP NULL,
  acquired_by UUID NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  state VARCHAR(10) NOT NULL,
  visible_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_queue_elements_id ON queue_elements (id, queue_name);
CREATE INDEX IF NOT EXISTS idx_queue_elements_update ON queue_elements (sequence, acquired_by);
CREATE INDEX IF NOT EXISTS idx_queue_elements_take ON queue_elements (queue_name, visible_at) WHERE state = 'pending';

-- effect's own migration bookkeeping for this table, marked as done
CREATE TABLE IF NOT EXISTS queue_elements_migrations (
  migration_id INTEGER PRIMARY KEY,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  name TEXT NOT NULL
);
INSERT INTO queue_elements_migrations (migration_id, name)
VALUES (1, 'create_table'), (2, 'upgrade_schema')
ON CONFLICT (migration_id) DO NOTHING;

GRANT SELECT, INSERT, UPDATE, DELETE ON queue_elements, queue_elements_migrations TO integration_app;
GRANT USAGE ON SEQUENCE queue_elements_sequence_seq TO integration_app;
`

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
 * default; works on PostgreSQL and PGlite), plus `QueueDeadLetters` over the
 * same table. Run `migrationSql` as the owner first: the service role's
 * connection cannot create the table. Delays are whole seconds (database clock).
 */
const layer = (
  options: PostgresQueueStoreOptions = {}
): Layer.Layer<PersistedQueue.PersistedQueueStore | QueueDeadLetters, SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.merge(PersistedQueue.layerStoreSql({ ...options, tableName }), Layer.effect(QueueDeadLetters, makeDeadLetters))

export const PostgresQueueStore = { layer, migrationSql, tableName } as const
