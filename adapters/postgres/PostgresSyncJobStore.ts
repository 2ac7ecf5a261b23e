import { Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { Priority, SyncJob } from "../../domain/sync/SyncJob.ts"
import {
  type EntityCursor,
  type Finish,
  type HistoryQuery,
  type JobLog,
  type JobRequest,
  LostClaim,
  SyncJobStore
} from "../../ports/sync/SyncJobStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/** A `sync_jobs` row as the pool reads it (names camel-cased): the job, with its counts as columns. */
interface JobRow extends Omit<SyncJob, "counts"> {
  readonly fetched: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly deleted: number
  readonly failed: number
  readonly runAfter: Date
}

export const jobOf = (row: JobRow): SyncJob => ({
  id: row.id,
  tenantId: row.tenantId,
  connectionId: row.connectionId,
  venueId: row.venueId,
  provider: row.provider,
  entityType: row.entityType,
  direction: row.direction,
  mode: row.mode,
  priority: row.priority,
  status: row.status,
  idempotencyKey: row.idempotencyKey,
  requestedBy: row.requestedBy,
  attempts: row.attempts,
  checkpoint: row.checkpoint,
  mappingVersion: row.mappingVersion,
  total: row.total,
  counts: {
    fetched: row.fetched,
    created: row.created,
    updated: row.updated,
    unchanged: row.unchanged,
    deleted: row.deleted,
    failed: row.failed
  },
  lastError: row.lastError,
  stopRequested: row.stopRequested,
  createdAt: row.createdAt,
  startedAt: row.startedAt,
  finishedAt: row.finishedAt,
  heartbeatAt: row.heartbeatAt
})

export const PostgresSyncJobStore = {
  layer: Layer.effect(
    SyncJobStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const inTenant = (tenantId: TenantId) => withTenant(sql, tenantId)
      const jobs = (rows: ReadonlyArray<unknown>) => (rows as ReadonlyArray<JobRow>).map(jobOf)
      const rank = (priority: Statement.Fragment | Priority) =>
        sql`CASE ${priority} WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END`
      const fenced = (jobId: string) => (rows: ReadonlyArray<unknown>) =>
        rows.length === 0 ? Effect.fail(new LostClaim({ jobId })) : Effect.void

      const request = Effect.fn("SyncJobStore.request")(function* (r: JobRequest) {
        return yield* Effect.gen(function* () {
          const existing = yield* sql`SELECT * FROM sync_jobs WHERE tenant_id = ${r.tenantId}
            AND idempotency_key = ${r.idempotencyKey}`
          if (existing.length > 0) return { _tag: "existing" as const, job: jobs(existing)[0]! }
          // A waiting job of the same kind takes the request: the higher priority and the fuller mode win.
          const joined = yield* sql`UPDATE sync_jobs SET
              priority = CASE WHEN ${rank(sql`priority`)} <= ${rank(r.priority)} THEN priority ELSE ${r.priority} END,
              mode = CASE WHEN mode = 'incremental' AND ${r.mode} = 'full' THEN 'full' ELSE mode END
            WHERE tenant_id = ${r.tenantId} AND connection_id = ${r.connectionId} AND entity_type = ${r.entityType}
              AND direction = ${r.direction} AND status = 'queued' AND mode <> 'remap' AND ${r.mode} <> 'remap'
            RETURNING *`
          if (joined.length > 0) return { _tag: "coalesced" as const, job: jobs(joined)[0]! }
          const created = yield* sql`INSERT INTO sync_jobs (id, tenant_id, connection_id, venue_id, provider,
              entity_type, direction, mode, priority, status, idempotency_key, requested_by)
            VALUES (gen_random_uuid(), ${r.tenantId}, ${r.connectionId}, ${r.venueId}, ${r.provider}, ${r.entityType},
              ${r.direction}, ${r.mode}, ${r.priority}, 'queued', ${r.idempotencyKey}, ${r.requestedBy})
            ON CONFLICT DO NOTHING RETURNING *`
          if (created.length > 0) return { _tag: "created" as const, job: jobs(created)[0]! }
          // Lost a race to a concurrent request: the job it made (same key, or the one now waiting) answers.
          const winner = yield* sql`SELECT * FROM sync_jobs WHERE tenant_id = ${r.tenantId}
            AND (idempotency_key = ${r.idempotencyKey} OR (connection_id = ${r.connectionId}
              AND entity_type = ${r.entityType} AND direction = ${r.direction} AND status = 'queued'
              AND (mode = 'remap') = ${r.mode === "remap"}))
            ORDER BY (idempotency_key = ${r.idempotencyKey}) DESC LIMIT 1`
          return { _tag: "coalesced" as const, job: jobs(winner)[0]! }
        }).pipe(inTenant(r.tenantId), Effect.mapError(unavailable))
      })

      const get = Effect.fn("SyncJobStore.get")(function* (tenantId: TenantId, jobId: string) {
        const rows = yield* sql`SELECT * FROM sync_jobs WHERE id = ${jobId}`.pipe(
          inTenant(tenantId),
          Effect.mapError(unavailable)
        )
        return Option.fromNullishOr(jobs(rows)[0])
      })

      const claim = Effect.fn("SyncJobStore.claim")(function* (
        tenantId: TenantId,
        jobId: string,
        token: string,
        staleMillis: number
      ) {
        return yield* Effect.gen(function* () {
          const stale = sql`now() - ${staleMillis} * interval '1 millisecond'`
          const rows = yield* sql`SELECT *, coalesce(heartbeat_at >= ${stale}, false) AS live, run_after <= now() AS due
            FROM sync_jobs WHERE id = ${jobId} FOR UPDATE`
          const row = rows[0] as (JobRow & { live: boolean; due: boolean }) | undefined
          if (row === undefined || !(row.status === "queued" || row.status === "running"))
            return "not_runnable" as const
          // Running under a live heartbeat: another worker has it (this message is a duplicate).
          if (row.status === "running" && row.live) return "not_runnable" as const
          if (row.status === "queued" && !row.due) return "not_due" as const
          const job = jobOf(row)
          // One job at a time per connection × entity × direction (claims of one kind take turns on this lock); a
          // dead worker's job does not count.
          yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`${job.connectionId}|${job.entityType}|${job.direction}`}))`
          const busy = yield* sql`SELECT 1 FROM sync_jobs WHERE tenant_id = ${tenantId} AND id <> ${jobId}
            AND connection_id = ${job.connectionId} AND entity_type = ${job.entityType}
            AND direction = ${job.direction} AND status = 'running' AND heartbeat_at >= ${stale}`
          if (busy.length > 0) return "busy" as const
          const taken = yield* sql`UPDATE sync_jobs SET status = 'running', claim = ${token}, heartbeat_at = now(),
              -- Taking over a run that stopped beating is a failed run; a first or delayed run is not.
              attempts = attempts + CASE WHEN status = 'running' THEN 1 ELSE 0 END,
              started_at = coalesce(started_at, now()), finished_at = NULL
            WHERE id = ${jobId} RETURNING *`
          return jobs(taken)[0]!
        }).pipe(inTenant(tenantId), Effect.mapError(unavailable))
      })

      const heartbeat = Effect.fn("SyncJobStore.heartbeat")(function* (
        tenantId: TenantId,
        jobId: string,
        token: string
      ) {
        const rows = yield* sql`UPDATE sync_jobs SET heartbeat_at = now()
          WHERE id = ${jobId} AND claim = ${token} AND status = 'running' RETURNING stop_requested`.pipe(
          inTenant(tenantId),
          Effect.mapError(unavailable)
        )
        yield* fenced(jobId)(rows)
        return { stopRequested: (rows[0] as { stopRequested: boolean }).stopRequested }
      })

      const started = Effect.fn("SyncJobStore.started")(function* (
        tenantId: TenantId,
        jobId: string,
        token: string,
        mappingVersion: number
      ) {
        yield* sql`UPDATE sync_jobs SET mapping_version = ${mappingVersion}
          WHERE id = ${jobId} AND claim = ${token} AND status = 'running' RETURNING id`.pipe(
          Effect.flatMap(fenced(jobId)),
          inTenant(tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const finish = Effect.fn("SyncJobStore.finish")(function* (
        tenantId: TenantId,
        jobId: string,
        token: string,
        f: Finish
      ) {
        const done = f.status === "queued" ? null : sql`now()`
        yield* Effect.gen(function* () {
          const updated = yield* sql`UPDATE sync_jobs SET status = ${f.status}, last_error = ${f.error}, claim = NULL,
              heartbeat_at = NULL, stop_requested = false, finished_at = ${done ?? null},
              awaiting_reauth = ${f.awaitingReauth ?? false},
              attempts = attempts + ${f.failedRun === true ? 1 : 0},
              run_after = ${f.runAfter ?? sql`now()`}
            WHERE id = ${jobId} AND claim = ${token} AND status = 'running'
              -- Back in the queue while a request of its kind waits: the waiting one is merged into it below.
              AND (${f.status} <> 'queued' OR NOT EXISTS (SELECT 1 FROM sync_jobs w WHERE w.status = 'queued'
                AND w.tenant_id = sync_jobs.tenant_id AND w.connection_id = sync_jobs.connection_id
                AND w.entity_type = sync_jobs.entity_type AND w.direction = sync_jobs.direction
                AND (w.mode = 'remap') = (sync_jobs.mode = 'remap')))
            RETURNING id`
          if (updated.length > 0 || f.status !== "queued") return yield* fenced(jobId)(updated)
          // The waiting job is cancelled into this one, which keeps its checkpoint; a full request makes it full
          // (from the start), and the higher priority wins.
          const merged = yield* sql`WITH me AS (
              SELECT * FROM sync_jobs WHERE id = ${jobId} AND claim = ${token} AND status = 'running' FOR UPDATE
            ), waiting AS (
              UPDATE sync_jobs w SET status = 'cancelled', finished_at = now(), last_error = 'merged into ' || me.id
              FROM me WHERE w.status = 'queued' AND w.tenant_id = me.tenant_id AND w.connection_id = me.connection_id
                AND w.entity_type = me.entity_type AND w.direction = me.direction
                AND (w.mode = 'remap') = (me.mode = 'remap')
              RETURNING w.mode, w.priority
            )
            UPDATE sync_jobs j SET status = 'queued', last_error = ${f.error}, claim = NULL, heartbeat_at = NULL,
              stop_requested = false, awaiting_reauth = false, attempts = j.attempts + ${f.failedRun === true ? 1 : 0},
              run_after = ${f.runAfter ?? sql`now()`},
              mode = CASE WHEN j.mode = 'incremental' AND EXISTS (SELECT 1 FROM waiting WHERE mode = 'full')
                THEN 'full' ELSE j.mode END,
              checkpoint = CASE WHEN j.mode = 'incremental' AND EXISTS (SELECT 1 FROM waiting WHERE mode = 'full')
                THEN NULL ELSE j.checkpoint END,
              priority = (SELECT p FROM unnest(ARRAY[j.priority] || ARRAY(SELECT priority FROM waiting)) AS p
                ORDER BY ${rank(sql`p`)} LIMIT 1)
            FROM me WHERE j.id = me.id RETURNING j.id`
          yield* fenced(jobId)(merged)
        }).pipe(
          inTenant(tenantId),
          Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e)))
        )
      })

      const log = Effect.fn("SyncJobStore.log")(function* (
        tenantId: TenantId,
        jobId: string,
        level: JobLog["level"],
        message: string,
        details?: unknown
      ) {
        yield* sql`INSERT INTO sync_logs (tenant_id, job_id, level, message, details)
          VALUES (${tenantId}, ${jobId}, ${level}, ${message},
            ${details === undefined ? null : JSON.stringify(details)}::jsonb)`.pipe(
          inTenant(tenantId),
          Effect.mapError(unavailable)
        )
      })

      const logs = Effect.fn("SyncJobStore.logs")(function* (tenantId: TenantId, jobIds: ReadonlyArray<string>) {
        const byJob = new Map<string, Array<JobLog>>()
        if (jobIds.length === 0) return byJob
        const rows = yield* sql`SELECT job_id, level, message, details, created_at FROM sync_logs
          WHERE job_id IN ${sql.in(jobIds)} ORDER BY id`.pipe(inTenant(tenantId), Effect.mapError(unavailable))
        for (const row of rows as ReadonlyArray<{
          jobId: string
          level: JobLog["level"]
          message: string
          details: unknown
          createdAt: Date
        }>) {
          const list = byJob.get(row.jobId) ?? []
          list.push({ level: row.level, message: row.message, details: row.details, at: row.createdAt })
          byJob.set(row.jobId, list)
        }
        return byJob
      })

      const history = Effect.fn("SyncJobStore.history")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        q: HistoryQuery
      ) {
        const filters = [
          sql`connection_id = ${connectionId}`,
          ...Option.match(q.status, { onNone: () => [], onSome: (s) => [sql`status = ${s}`] }),
          ...Option.match(q.entityType, { onNone: () => [], onSome: (e) => [sql`entity_type = ${e}`] }),
          ...Option.match(q.before, {
            onNone: () => [],
            onSome: (b) => [sql`(created_at, id) < (${b.createdAt}, ${b.id})`]
          })
        ]
        const rows = yield* sql`SELECT * FROM sync_jobs WHERE ${sql.and(filters)}
          ORDER BY created_at DESC, id DESC LIMIT ${q.limit}`.pipe(inTenant(tenantId), Effect.mapError(unavailable))
        return jobs(rows)
      })

      const latest = Effect.fn("SyncJobStore.latest")(function* (tenantId: TenantId, connectionId: ConnectionId) {
        return yield* Effect.gen(function* () {
          const rows = yield* sql`SELECT DISTINCT ON (entity_type, direction) * FROM sync_jobs
            WHERE connection_id = ${connectionId}
            ORDER BY entity_type, direction, (status IN ('running', 'queued')) DESC, created_at DESC`
          const cursors = yield* sql`SELECT entity_type, watermark, last_full_at, last_success_at FROM sync_cursors
            WHERE connection_id = ${connectionId} AND direction = 'inbound'`
          const schedule = yield* sql`SELECT next_run_at FROM sync_schedules WHERE connection_id = ${connectionId}`
          return {
            jobs: jobs(rows),
            cursors: cursors as unknown as ReadonlyArray<EntityCursor>,
            nextRunAt: (schedule[0] as { nextRunAt: Date } | undefined)?.nextRunAt ?? null
          }
        }).pipe(inTenant(tenantId), Effect.mapError(unavailable))
      })

      const which = (connectionId: ConnectionId, jobId: Option.Option<string>) =>
        Option.match(jobId, {
          onNone: () => sql`connection_id = ${connectionId}`,
          onSome: (id) => sql`connection_id = ${connectionId} AND id = ${id}`
        })

      const stop = Effect.fn("SyncJobStore.stop")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        jobId: Option.Option<string>
      ) {
        const rows = yield* sql`UPDATE sync_jobs SET
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
            stop_requested = (status = 'running')
          WHERE ${which(connectionId, jobId)} AND status IN ('queued', 'running') RETURNING *`.pipe(
          inTenant(tenantId),
          Effect.mapError(unavailable)
        )
        return jobs(rows)
      })

      const requeue = (tenantId: TenantId, where: Statement.Fragment) =>
        Effect.gen(function* () {
          const candidates = jobs(
            yield* sql`SELECT * FROM sync_jobs WHERE ${where} AND status IN ('failed', 'dead', 'paused')
              ORDER BY created_at FOR UPDATE`
          )
          const queued: Array<SyncJob> = []
          for (const job of candidates) {
            // A job of the same kind already waiting runs instead; this one is superseded.
            const waiting = yield* sql`SELECT 1 FROM sync_jobs WHERE connection_id = ${job.connectionId}
              AND entity_type = ${job.entityType} AND direction = ${job.direction} AND status = 'queued'`
            if (waiting.length > 0) continue
            const rows = yield* sql`UPDATE sync_jobs SET status = 'queued', last_error = NULL, finished_at = NULL,
                run_after = now(), awaiting_reauth = false WHERE id = ${job.id} RETURNING *`
            queued.push(...jobs(rows))
          }
          return queued
        }).pipe(inTenant(tenantId), Effect.mapError(unavailable))

      const retry = Effect.fn("SyncJobStore.retry")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        jobId: Option.Option<string>
      ) {
        return yield* requeue(tenantId, which(connectionId, jobId))
      })

      const resumePaused = Effect.fn("SyncJobStore.resumePaused")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId
      ) {
        return yield* requeue(tenantId, sql`connection_id = ${connectionId} AND status = 'paused' AND awaiting_reauth`)
      })

      return SyncJobStore.of({
        request,
        get,
        claim,
        heartbeat,
        started,
        finish,
        log,
        logs,
        history,
        latest,
        stop,
        retry,
        resumePaused
      })
    })
  )
} as const
