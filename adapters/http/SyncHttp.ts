import { Clock, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SyncJobs } from "../../application/sync/SyncJobs.ts"
import type { SyncJob } from "../../domain/sync/SyncJob.ts"
import type { JobLog } from "../../ports/sync/SyncJobStore.ts"
import { Api } from "./Api.ts"
import { toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

const summary = (job: SyncJob) => ({
  id: job.id,
  entityType: job.entityType,
  direction: job.direction,
  mode: job.mode,
  priority: job.priority,
  status: job.status
})

const detail = (job: SyncJob, logs: ReadonlyArray<JobLog>, now: number) => ({
  ...summary(job),
  requestedBy: job.requestedBy,
  attempts: job.attempts,
  mappingVersion: job.mappingVersion,
  total: job.total,
  counts: job.counts,
  lastError: job.lastError,
  createdAt: job.createdAt,
  startedAt: job.startedAt,
  finishedAt: job.finishedAt,
  durationSeconds:
    job.startedAt === null ? null : ((job.finishedAt?.getTime() ?? now) - job.startedAt.getTime()) / 1000,
  logs
})

export const SyncHttp = HttpApiBuilder.group(
  Api,
  "sync",
  Effect.fn(function* (handlers) {
    const sync = yield* SyncJobs
    return handlers
      .handle("sync", ({ params, payload, headers }) =>
        CurrentPrincipal.use((p) =>
          sync.request(p, params.provider, { ...payload, idempotencyKey: headers["idempotency-key"] })
        ).pipe(
          Effect.map((jobs) => ({ jobs: jobs.map(summary) })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("stop", ({ params, payload }) =>
        CurrentPrincipal.use((p) => sync.stop(p, params.provider, payload.venueId, payload.jobId)).pipe(
          Effect.map((jobs) => ({ jobs: jobs.map(summary) })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("policies", ({ params, query }) =>
        CurrentPrincipal.use((p) => sync.policies(p, params.provider, query.venueId)).pipe(
          Effect.map((policies) => ({ policies })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("setPolicy", ({ params, payload }) =>
        CurrentPrincipal.use((p) => sync.setPolicy(p, params.provider, payload)).pipe(
          Effect.map((policies) => ({ policies })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("retry", ({ params, payload }) =>
        CurrentPrincipal.use((p) => sync.retry(p, params.provider, payload.venueId, payload.jobId)).pipe(
          Effect.map((jobs) => ({ jobs: jobs.map(summary) })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("status", ({ params, query }) =>
        CurrentPrincipal.use((p) => sync.status(p, params.provider, query.venueId)).pipe(
          Effect.map((entities) => ({ entities })),
          Effect.mapError(toHttpError)
        )
      )
      .handle("history", ({ params, query }) =>
        Effect.gen(function* () {
          const page = yield* CurrentPrincipal.use((p) =>
            sync.history(p, params.provider, { ...query, limit: query.limit ?? 50 })
          )
          const now = yield* Clock.currentTimeMillis
          return { jobs: page.jobs.map(({ job, logs }) => detail(job, logs, now)), nextCursor: page.nextCursor }
        }).pipe(Effect.mapError(toHttpError))
      )
      .handle("records", ({ params, query }) =>
        CurrentPrincipal.use((p) => sync.feed(p, params.provider, { ...query, limit: query.limit ?? 100 })).pipe(
          Effect.mapError(toHttpError)
        )
      )
  })
)
