import { Clock, Effect, Layer, Option } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { higher, noCounts, type SyncJob } from "../../domain/sync/SyncJob.ts"
import {
  type ClaimRefusal,
  type EntityCursor,
  type Finish,
  type HistoryQuery,
  type JobLog,
  type JobRequest,
  LostClaim,
  type Requested,
  SyncJobStore
} from "../../ports/sync/SyncJobStore.ts"
import { connectionKey, type JobRow, MemorySyncState, type SyncState } from "./MemorySyncState.ts"

/**
 * Jobs that wait together: same connection × entity × direction, and remap or not. A remap reads stored payloads and
 * an incremental pass reads the provider, so neither can stand in for the other.
 */
export const sameKind = (a: SyncJob, b: Pick<SyncJob, "connectionId" | "entityType" | "direction" | "mode">) =>
  a.connectionId === b.connectionId &&
  a.entityType === b.entityType &&
  a.direction === b.direction &&
  (a.mode === "remap") === (b.mode === "remap")

const rowsOf = (state: SyncState, tenantId: TenantId) =>
  [...state.jobs.values()].filter((row) => row.job.tenantId === tenantId)

/** The tenant's job under `claim` while running; fails with LostClaim otherwise. */
export const fencedRow = (state: SyncState, tenantId: TenantId, jobId: string, claim: string) =>
  Effect.suspend(() => {
    const row = state.jobs.get(jobId)
    return row !== undefined && row.job.tenantId === tenantId && row.claim === claim && row.job.status === "running"
      ? Effect.succeed(row)
      : Effect.fail(new LostClaim({ jobId }))
  })

const update = (row: JobRow, changes: Partial<SyncJob>) => {
  row.job = { ...row.job, ...changes }
  return row.job
}

const newestFirst = (a: SyncJob, b: SyncJob) =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

/** SyncJobStore in process memory over the shared MemorySyncState; each operation is one synchronous step. */
export const MemorySyncJobStore = {
  layer: Layer.effect(
    SyncJobStore,
    Effect.gen(function* () {
      const { state } = yield* MemorySyncState
      /** Runs `f` at the current time in one synchronous step. */
      const at = <A, E>(f: (now: number) => Effect.Effect<A, E>) => Effect.flatMap(Clock.currentTimeMillis, f)

      const request = (r: JobRequest) =>
        at((now): Effect.Effect<Requested> => {
          const existing = rowsOf(state, r.tenantId).find((row) => row.job.idempotencyKey === r.idempotencyKey)
          if (existing !== undefined) return Effect.succeed({ _tag: "existing", job: existing.job })
          // A waiting job of the same kind takes the request: the higher priority and the fuller mode win.
          const waiting = rowsOf(state, r.tenantId).find((row) => row.job.status === "queued" && sameKind(row.job, r))
          if (waiting !== undefined) {
            const job = update(waiting, {
              priority: higher(waiting.job.priority, r.priority),
              mode: waiting.job.mode === "incremental" && r.mode === "full" ? "full" : waiting.job.mode
            })
            return Effect.succeed({ _tag: "coalesced", job })
          }
          const job: SyncJob = {
            id: crypto.randomUUID(),
            tenantId: r.tenantId,
            connectionId: r.connectionId,
            venueId: r.venueId,
            provider: r.provider,
            entityType: r.entityType,
            direction: r.direction,
            mode: r.mode,
            priority: r.priority,
            status: "queued",
            idempotencyKey: r.idempotencyKey,
            requestedBy: r.requestedBy,
            attempts: 0,
            checkpoint: null,
            mappingVersion: null,
            total: null,
            counts: noCounts,
            lastError: null,
            stopRequested: false,
            createdAt: new Date(now),
            startedAt: null,
            finishedAt: null,
            heartbeatAt: null
          }
          state.jobs.set(job.id, { job, claim: null, awaitingReauth: false, runAfter: now })
          return Effect.succeed({ _tag: "created", job })
        }).pipe(Effect.withSpan("MemorySyncJobStore.request"))

      const get = (tenantId: TenantId, jobId: string) =>
        Effect.sync(() => {
          const row = state.jobs.get(jobId)
          return Option.fromNullishOr(row?.job.tenantId === tenantId ? row.job : undefined)
        })

      const claim = (tenantId: TenantId, jobId: string, token: string, staleMillis: number) =>
        at((now): Effect.Effect<SyncJob | ClaimRefusal> => {
          const live = (job: SyncJob) => job.heartbeatAt !== null && job.heartbeatAt.getTime() >= now - staleMillis
          const row = state.jobs.get(jobId)
          if (row === undefined || row.job.tenantId !== tenantId) return Effect.succeed("not_runnable")
          const job = row.job
          if (job.status !== "queued" && job.status !== "running") return Effect.succeed("not_runnable")
          // Running under a live heartbeat: another worker has it (this message is a duplicate).
          if (job.status === "running" && live(job)) return Effect.succeed("not_runnable")
          if (job.status === "queued" && row.runAfter > now) return Effect.succeed("not_due")
          // One job at a time per connection × entity × direction; a dead worker's job does not count.
          const busy = rowsOf(state, tenantId).some(
            (other) =>
              other.job.id !== jobId &&
              other.job.connectionId === job.connectionId &&
              other.job.entityType === job.entityType &&
              other.job.direction === job.direction &&
              other.job.status === "running" &&
              live(other.job)
          )
          if (busy) return Effect.succeed("busy")
          row.claim = token
          return Effect.succeed(
            update(row, {
              status: "running",
              heartbeatAt: new Date(now),
              // Taking over a run that stopped beating is a failed run; a first or delayed run is not.
              attempts: job.attempts + (job.status === "running" ? 1 : 0),
              startedAt: job.startedAt ?? new Date(now),
              finishedAt: null
            })
          )
        })

      const heartbeat = (tenantId: TenantId, jobId: string, token: string) =>
        at((now) =>
          Effect.map(fencedRow(state, tenantId, jobId, token), (row) => ({
            stopRequested: update(row, { heartbeatAt: new Date(now) }).stopRequested
          }))
        )

      const started = (tenantId: TenantId, jobId: string, token: string, mappingVersion: number) =>
        Effect.asVoid(Effect.map(fencedRow(state, tenantId, jobId, token), (row) => update(row, { mappingVersion })))

      const finish = (tenantId: TenantId, jobId: string, token: string, f: Finish) =>
        at((now) =>
          Effect.map(fencedRow(state, tenantId, jobId, token), (row) => {
            row.claim = null
            row.awaitingReauth = f.awaitingReauth ?? false
            row.runAfter = f.runAfter?.getTime() ?? now
            update(row, {
              status: f.status,
              lastError: f.error,
              heartbeatAt: null,
              stopRequested: false,
              attempts: row.job.attempts + (f.failedRun === true ? 1 : 0),
              finishedAt: f.status === "queued" ? null : new Date(now)
            })
          })
        )

      const log = (tenantId: TenantId, jobId: string, level: JobLog["level"], message: string, details?: unknown) =>
        at((now) =>
          Effect.sync(() => {
            // Stored as JSON, like a jsonb column: what reads back is a copy.
            const stored = details === undefined ? null : JSON.parse(JSON.stringify(details))
            state.logs.push({ tenantId, jobId, level, message, details: stored, at: new Date(now) })
          })
        )

      const logs = (tenantId: TenantId, jobIds: ReadonlyArray<string>) =>
        Effect.sync(() => {
          const byJob = new Map<string, Array<JobLog>>()
          for (const entry of state.logs) {
            if (entry.tenantId !== tenantId || !jobIds.includes(entry.jobId)) continue
            const list = byJob.get(entry.jobId) ?? []
            list.push({ level: entry.level, message: entry.message, details: entry.details, at: entry.at })
            byJob.set(entry.jobId, list)
          }
          return byJob as ReadonlyMap<string, ReadonlyArray<JobLog>>
        })

      const history = (tenantId: TenantId, connectionId: ConnectionId, q: HistoryQuery) =>
        Effect.sync(() =>
          rowsOf(state, tenantId)
            .map((row) => row.job)
            .filter(
              (job) =>
                job.connectionId === connectionId &&
                Option.match(q.status, { onNone: () => true, onSome: (s) => job.status === s }) &&
                Option.match(q.entityType, { onNone: () => true, onSome: (e) => job.entityType === e }) &&
                Option.match(q.before, {
                  onNone: () => true,
                  onSome: (b) =>
                    job.createdAt.getTime() < b.createdAt.getTime() ||
                    (job.createdAt.getTime() === b.createdAt.getTime() && job.id < b.id)
                })
            )
            .sort(newestFirst)
            .slice(0, q.limit)
        )

      const latest = (tenantId: TenantId, connectionId: ConnectionId) =>
        Effect.sync(() => {
          const active = (job: SyncJob) => job.status === "running" || job.status === "queued"
          const newest = new Map<string, SyncJob>()
          for (const { job } of rowsOf(state, tenantId)) {
            if (job.connectionId !== connectionId) continue
            const key = `${job.entityType}|${job.direction}`
            const best = newest.get(key)
            if (
              best === undefined ||
              (active(job) && !active(best)) ||
              // Created in the same millisecond: the later request is the newer.
              (active(job) === active(best) && job.createdAt.getTime() >= best.createdAt.getTime())
            )
              newest.set(key, job)
          }
          const jobs = [...newest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, job]) => job)
          const prefix = `${connectionKey(tenantId, connectionId)}|`
          const cursors: Array<EntityCursor> = [...state.cursors.entries()]
            .filter(([key]) => key.startsWith(prefix))
            .map(([key, c]) => ({ entityType: key.slice(prefix.length) as EntityCursor["entityType"], ...c }))
          const schedule = state.schedules.get(connectionKey(tenantId, connectionId))
          return { jobs, cursors, nextRunAt: schedule === undefined ? null : new Date(schedule.nextRunAt) }
        })

      const which = (tenantId: TenantId, connectionId: ConnectionId, jobId: Option.Option<string>) =>
        rowsOf(state, tenantId).filter(
          (row) =>
            row.job.connectionId === connectionId &&
            Option.match(jobId, { onNone: () => true, onSome: (id) => row.job.id === id })
        )

      const stop = (tenantId: TenantId, connectionId: ConnectionId, jobId: Option.Option<string>) =>
        at((now) =>
          Effect.sync(() =>
            which(tenantId, connectionId, jobId).flatMap((row) => {
              if (row.job.status === "queued")
                return [update(row, { status: "cancelled", finishedAt: new Date(now), stopRequested: false })]
              if (row.job.status === "running") return [update(row, { stopRequested: true })]
              return []
            })
          )
        )

      /** Failed, dead or paused jobs queued again, oldest first, unless a job of the same kind already waits. */
      const requeue = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        jobId: Option.Option<string>,
        reauthOnly: boolean
      ) =>
        at((now) =>
          Effect.sync(() => {
            const queued: Array<SyncJob> = []
            const candidates = which(tenantId, connectionId, jobId)
              .filter((row) =>
                reauthOnly
                  ? row.job.status === "paused" && row.awaitingReauth
                  : ["failed", "dead", "paused"].includes(row.job.status)
              )
              .sort((a, b) => a.job.createdAt.getTime() - b.job.createdAt.getTime())
            for (const row of candidates) {
              const waiting = rowsOf(state, tenantId).some(
                (other) => other.job.status === "queued" && sameKind(other.job, row.job)
              )
              if (waiting) continue
              row.runAfter = now
              row.awaitingReauth = false
              queued.push(update(row, { status: "queued", lastError: null, finishedAt: null }))
            }
            return queued
          })
        )

      const retry = (tenantId: TenantId, connectionId: ConnectionId, jobId: Option.Option<string>) =>
        requeue(tenantId, connectionId, jobId, false)

      const resumePaused = (tenantId: TenantId, connectionId: ConnectionId) =>
        requeue(tenantId, connectionId, Option.none(), true)

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
