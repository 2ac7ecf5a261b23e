import { Config, Effect, Layer, Option } from "effect"
import { Admin } from "../../application/operations/Admin.ts"
import { MonitoringOps } from "../../application/operations/MonitoringOps.ts"
import { AdminHttp } from "../http/AdminHttp.ts"
import { MonitoringAdminHttp, MonitoringHttp } from "../http/MonitoringHttp.ts"
import { MonitoringOpsHttp } from "../http/MonitoringOpsHttp.ts"
import { StoreBreakerReset } from "../operations/StoreBreakerReset.ts"
import { PostgresOperationsStore } from "../postgres/PostgresOperationsStore.ts"
import { IoRedis } from "../redis/IoRedis.ts"
import { RedisBreakerReset, RedisPingLive } from "../redis/RedisOperations.ts"

/** Breaker resets where the breakers live (Redis when `REDIS_URL` is set, as in Sync.ts), and Redis's PING. */
const RedisOrStore = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isNone(yield* Config.option(Config.String("REDIS_URL")))) return StoreBreakerReset
    return Layer.mergeAll(RedisBreakerReset, RedisPingLive).pipe(Layer.provide(IoRedis.layerConfig()))
  })
)

/** The admin and monitoring use cases with their adapters; needs the sync and webhook use cases and the pool. */
export const OperationsUseCases = Layer.mergeAll(Admin.layer, MonitoringOps.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(PostgresOperationsStore.layer, RedisOrStore))
)

/** The handlers of the admin and every monitoring group, with their use cases (readiness pings Redis through them). */
export const OperationsHttp = Layer.mergeAll(AdminHttp, MonitoringOpsHttp, MonitoringHttp, MonitoringAdminHttp).pipe(
  Layer.provide(OperationsUseCases)
)
