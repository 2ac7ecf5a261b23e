import { Config, Effect, Layer, Option } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { CompiledMappings } from "../../application/sync/CompiledMappings.ts"
import { DataCredentials } from "../../application/sync/DataCredentials.ts"
import { OutboundPass } from "../../application/sync/OutboundPass.ts"
import { ProviderCalls } from "../../application/sync/ProviderCalls.ts"
import { SyncEngine } from "../../application/sync/SyncEngine.ts"
import { SyncJobs } from "../../application/sync/SyncJobs.ts"
import { SyncWorker } from "../../application/sync/SyncWorker.ts"
import { PersistedSyncQueue } from "../persistence/PersistedSyncQueue.ts"
import { PostgresOutboundRecords } from "../postgres/PostgresOutboundRecords.ts"
import { PostgresSyncJobStore } from "../postgres/PostgresSyncJobStore.ts"
import { PostgresSyncRecords } from "../postgres/PostgresSyncRecords.ts"
import { PostgresSyncSchedule } from "../postgres/PostgresSyncSchedule.ts"
import { SdkProviderData } from "../providers/SdkProviderData.ts"
import { SdkProviderWrites } from "../providers/SdkProviderWrites.ts"
import { IoRedis } from "../redis/IoRedis.ts"
import { QueueFactoryLive } from "./Webhooks.ts"

/** Breaker state on Redis when `REDIS_URL` is set (every process sees a provider's outage), else in this process. */
const CircuitBreakerStoreLive = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isNone(yield* Config.option(Config.String("REDIS_URL")))) return CircuitBreaker.layerStoreMemory()
    const prefix = yield* Config.String("CIRCUIT_BREAKER_PREFIX").pipe(
      Config.withDefault("integration-service:breaker:")
    )
    return CircuitBreaker.layerStoreRedis({ prefix }).pipe(Layer.provide(IoRedis.layerConfig()))
  })
)

/**
 * The sync adapters: job, record, outbound and schedule stores on the SQL pool, the queues, the providers' data
 * readers and writers.
 */
export const SyncAdapters = Layer.mergeAll(
  PostgresSyncJobStore.layer,
  PostgresSyncRecords.layer,
  PostgresOutboundRecords.layer,
  PostgresSyncSchedule.layer,
  PersistedSyncQueue.layer.pipe(Layer.provide(QueueFactoryLive)),
  SdkProviderData.layer,
  SdkProviderWrites.layer,
  CircuitBreakerStoreLive
)

/** The sync use cases (routes, scheduler) on the engine, its provider calls and credentials. */
export const SyncUseCases = SyncJobs.layer.pipe(
  Layer.provideMerge(SyncEngine.layer),
  Layer.provideMerge(OutboundPass.layer),
  Layer.provideMerge(Layer.mergeAll(ProviderCalls.layer, DataCredentials.layer, CompiledMappings.layer))
)

/** The takers and the scheduler, for as long as the process runs (ROLE=worker or all). */
export const SyncWorkerLive = Layer.effectDiscard(
  Effect.flatMap(SyncWorker.make, (worker) => Effect.forkScoped(worker.run))
)
