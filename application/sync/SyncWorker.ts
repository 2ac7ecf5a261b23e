import { Cause, Clock, Config, Context, Duration, Effect, Layer, Option } from "effect"
import { TenantId } from "../../domain/Ids.ts"
import { entitiesFor } from "../../domain/sync/SupportedPairs.ts"
import { priorities } from "../../domain/sync/SyncJob.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { SyncQueue } from "../../ports/sync/SyncQueue.ts"
import { SyncSchedule } from "../../ports/sync/SyncSchedule.ts"
import { QueueUnavailable } from "../../ports/WebhookQueue.ts"
import { parentFrom } from "../ProcessWebhookEvent.ts"
import { makePriorityGate } from "./PriorityGate.ts"
import { SyncEngine, SyncEngineConfig } from "./SyncEngine.ts"
import { SyncJobs } from "./SyncJobs.ts"

export const SyncWorkerConfig = Config.all({
  /** Jobs running at once in this process. */
  concurrency: Config.Int("SYNC_CONCURRENCY").pipe(Config.withDefault(4)),
  /** How often each connection gets an incremental sync. */
  interval: Config.Duration("SYNC_INTERVAL").pipe(Config.withDefault(Duration.minutes(15))),
  /** How often the scheduler looks for due syncs, webhook requests and lost jobs. */
  tick: Config.Duration("SYNC_SCHEDULER_TICK").pipe(Config.withDefault(Duration.seconds(2))),
  /**
   * `false`: no periodic or webhook-asked syncs from this process (jobs asked for through the API still run, lost
   * jobs are still offered again and paused ones still resume after a reconnect).
   */
  schedule: Config.Boolean("SYNC_SCHEDULER").pipe(Config.withDefault(true))
})

/**
 * The sync worker: takers on every priority's queue sharing `concurrency` slots (a higher priority gets a free slot
 * first), and the scheduler, which turns due periodic syncs (a new connection's initial full sync among them) and
 * webhook-asked syncs into jobs, and offers again jobs whose message was lost or whose worker stopped beating.
 */
export class SyncWorker extends Context.Service<SyncWorker>()("integration-service/application/sync/SyncWorker", {
  make: Effect.gen(function* () {
    const config = yield* SyncWorkerConfig
    const { staleAfter } = yield* SyncEngineConfig
    const engine = yield* SyncEngine
    const jobs = yield* SyncJobs
    const queue = yield* SyncQueue
    const schedule = yield* SyncSchedule
    const connections = yield* ConnectionStore
    const gate = makePriorityGate(config.concurrency)

    const taker = (priority: (typeof priorities)[number]) =>
      queue
        .take(priority, (message) => {
          const parent = parentFrom(message.traceParent)
          return gate(priority, engine.run(message)).pipe(
            Effect.withSpan("SyncWorker.job", {
              ...(parent === undefined ? {} : { parent }),
              attributes: { "sync.job.id": message.jobId, "sync.priority": priority }
            })
          )
        })
        .pipe(
          Effect.catch((error) =>
            error instanceof QueueUnavailable
              ? Effect.logWarning("sync queue unavailable", error.message).pipe(
                  Effect.andThen(Effect.sleep("1 second"))
                )
              : Effect.logError("sync job failed; the queue retries it", error)
          ),
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logError("sync job failed; the queue retries it", cause)
          ),
          Effect.forever
        )

    const intervalMillis = Duration.toMillis(config.interval)

    const due = Effect.fn("SyncWorker.due")(function* () {
      const claimed = yield* schedule.claimDue(intervalMillis, 100)
      const at = yield* Clock.currentTimeMillis
      for (const { tenantId, connectionId } of claimed) {
        const connection = (yield* connections.list(TenantId.make(tenantId), Option.none())).find(
          (c) => c.id === connectionId
        )
        if (connection === undefined) continue
        yield* Effect.forEach(entitiesFor(connection.provider, "inbound"), (entityType) =>
          jobs.requestFor(
            connection,
            entityType,
            "incremental",
            `schedule:${connection.id}:${entityType}:${Math.floor(at / intervalMillis)}`,
            "scheduler",
            "low"
          )
        )
        // Platform changes schedule their own outbound jobs; this pass finds any whose request was lost in a crash.
        yield* Effect.forEach(entitiesFor(connection.provider, "outbound"), (entityType) =>
          jobs.requestFor(
            connection,
            entityType,
            "incremental",
            `schedule:${connection.id}:${entityType}:outbound:${Math.floor(at / intervalMillis)}`,
            "scheduler",
            "low",
            "outbound"
          )
        )
      }
      const requests = yield* schedule.takeRequests(100)
      for (const r of requests) {
        const connection = (yield* connections.list(TenantId.make(r.tenantId), Option.none())).find(
          (c) => c.id === r.connectionId
        )
        if (connection === undefined || connection.status !== "connected") continue
        yield* jobs.requestFor(
          connection,
          r.entityType,
          "incremental",
          `request:${connection.id}:${r.entityType}:${at}`,
          r.source,
          "high"
        )
      }
      yield* recover()
    })

    /** Recovery, which runs even without the scheduler: lost or stalled jobs, jobs waiting for a reconnect. */
    const recover = Effect.fn("SyncWorker.recover")(function* () {
      const at = yield* Clock.currentTimeMillis
      const reconnected = yield* schedule.reconnected(100)
      yield* Effect.forEach(reconnected, (c) => jobs.resumePaused(TenantId.make(c.tenantId), c.connectionId))
      const lost = yield* schedule.jobsToRequeue(Duration.toMillis(staleAfter), 100)
      yield* Effect.forEach(lost, (job) =>
        queue
          .offer({ jobId: job.jobId, tenantId: job.tenantId, traceParent: null }, job.priority, {
            id: `${job.jobId}:${at}`
          })
          .pipe(Effect.catchTag("QueueUnavailable", () => Effect.void))
      )
      yield* Effect.annotateCurrentSpan({ "sync.requeued": lost.length, "sync.resumed": reconnected.length })
    })

    const scheduler = (config.schedule ? due() : recover()).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logWarning("sync scheduler failed", cause)
      ),
      Effect.andThen(Effect.sleep(config.tick)),
      Effect.forever
    )

    /** Runs until interrupted (the process's scope closes). */
    const run = Effect.all(
      [...priorities.flatMap((p) => Array.from({ length: config.concurrency }, () => taker(p))), scheduler],
      { concurrency: "unbounded", discard: true }
    )

    return { run }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
