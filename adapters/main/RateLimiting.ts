import { Config, Effect, Layer, Option } from "effect"
import { RateLimiter } from "effect/persistence"
import { IoRedis } from "../redis/IoRedis.ts"

/**
 * Effect's `RateLimiter`, for every limit the service keeps (the REST API per tenant, see ApiRateLimit): on Redis
 * when `REDIS_URL` is set, so that every process counts against one budget, else in this process's memory.
 */
export const RateLimiterLive = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isNone(yield* Config.option(Config.String("REDIS_URL")))) {
      return RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))
    }
    const prefix = yield* Config.String("RATE_LIMIT_PREFIX").pipe(Config.withDefault("integration-service:ratelimit:"))
    // A stalled Redis fails the check within a second (and the request is admitted) rather than holding it.
    return RateLimiter.layer.pipe(
      Layer.provide(RateLimiter.layerStoreRedis({ prefix })),
      Layer.provide(IoRedis.layerConfig({ commandTimeout: 1_000 }))
    )
  })
)
