import { Config, Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { BreakerReset, BreakerResetFailed, RedisPing } from "../../ports/operations/BreakerReset.ts"

/**
 * On Redis a circuit is one hash under the breakers' prefix; deleting it closes the circuit for every process (a
 * missing circuit reads as closed, and permits issued before carry an older generation, so they cannot reopen it).
 */
export const RedisBreakerReset = Layer.effect(
  BreakerReset,
  Effect.gen(function* () {
    const redis = yield* Redis.Redis
    const prefix = yield* Config.String("CIRCUIT_BREAKER_PREFIX").pipe(
      Config.withDefault("integration-service:breaker:")
    )
    return BreakerReset.of({
      reset: (key) =>
        redis
          .send("DEL", `${prefix}${key}`)
          .pipe(Effect.mapError((e) => new BreakerResetFailed({ key, message: e.message })))
    })
  })
)

export const RedisPingLive = Layer.effect(
  RedisPing,
  Effect.map(Redis.Redis, (redis) => RedisPing.of({ ping: Effect.asVoid(redis.send("PING")) }))
)
