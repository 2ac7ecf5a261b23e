import { Clock, Effect, Layer } from "effect"
import type { DueConnection, JobToRequeue, TakenRequest } from "../../ports/sync/SyncSchedule.ts"
import { SyncSchedule } from "../../ports/sync/SyncSchedule.ts"
import { connectionKey, MemorySyncState } from "./MemorySyncState.ts"

/**
 * The scheduler's reads over MemorySyncState's world (connections and webhook sync requests) and its jobs. Each call
 * is one synchronous step, so whatever it hands out goes to exactly one caller.
 */
export const MemorySyncSchedule = {
  layer: Layer.effect(
    SyncSchedule,
    Effect.gen(function* () {
      const { state } = yield* MemorySyncState
      const connected = (tenantId: string, connectionId: string) =>
        state.connections.get(connectionKey(tenantId, connectionId))?.status === "connected"

      return SyncSchedule.of({
        // Every connected connection gets a schedule, due at once (its initial sync); each one handed out moves on.
        claimDue: (intervalMillis, limit) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            for (const [key, c] of state.connections)
              if (c.status === "connected" && !state.schedules.has(key))
                state.schedules.set(key, { nextRunAt: now, lastRunAt: null })
            const due = [...state.connections.entries()]
              .filter(([key, c]) => c.status === "connected" && state.schedules.get(key)!.nextRunAt <= now)
              .sort(([a], [b]) => state.schedules.get(a)!.nextRunAt - state.schedules.get(b)!.nextRunAt)
              .slice(0, limit)
            return due.map(([key, c]): DueConnection => {
              state.schedules.set(key, { nextRunAt: now + intervalMillis, lastRunAt: now })
              return { tenantId: c.tenantId, connectionId: c.connectionId }
            })
          }),
        // A taken request is gone; the periodic sync catches whatever a crash before its job loses.
        takeRequests: (limit) =>
          Effect.sync(() =>
            [...state.requests.entries()]
              .sort(([, a], [, b]) => a.requestedAt - b.requestedAt)
              .slice(0, limit)
              .map(([key, r]): TakenRequest => {
                state.requests.delete(key)
                return {
                  tenantId: r.tenantId,
                  connectionId: r.connectionId,
                  entityType: r.entityType,
                  source: r.source
                }
              })
          ),
        reconnected: (limit) =>
          Effect.sync(() => {
            const found = new Map<string, DueConnection>()
            for (const row of state.jobs.values()) {
              const { tenantId, connectionId, status } = row.job
              if (status === "paused" && row.awaitingReauth && connected(tenantId, connectionId))
                found.set(connectionKey(tenantId, connectionId), {
                  tenantId: tenantId as DueConnection["tenantId"],
                  connectionId: connectionId as DueConnection["connectionId"]
                })
            }
            return [...found.values()].slice(0, limit)
          }),
        // Queued and due for a while, or running with a stale heartbeat: their queue message may be lost.
        jobsToRequeue: (staleMillis, limit) =>
          Effect.map(Clock.currentTimeMillis, (now) =>
            [...state.jobs.values()]
              .filter(
                (row) =>
                  (row.job.status === "queued" && row.runAfter < now - staleMillis) ||
                  (row.job.status === "running" &&
                    row.job.heartbeatAt !== null &&
                    row.job.heartbeatAt.getTime() < now - staleMillis)
              )
              .sort((a, b) => a.runAfter - b.runAfter)
              .slice(0, limit)
              .map(
                (row): JobToRequeue => ({
                  tenantId: row.job.tenantId as JobToRequeue["tenantId"],
                  jobId: row.job.id,
                  priority: row.job.priority,
                  status: row.job.status as JobToRequeue["status"]
                })
              )
          )
      })
    })
  )
} as const
