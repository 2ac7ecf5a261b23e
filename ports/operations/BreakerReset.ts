import type { Effect } from "effect"
import { Context, Schema } from "effect"

export class BreakerResetFailed extends Schema.TaggedError<BreakerResetFailed>()("BreakerResetFailed", {
  key: Schema.String,
  message: Schema.String
}) {}

/**
 * Closes one circuit of the sync's provider breakers now, in the store they share. Effect's `CircuitBreaker` has no
 * reset of its own; each adapter does it through what its store allows.
 */
export class BreakerReset extends Context.Service<
  BreakerReset,
  { readonly reset: (key: string) => Effect.Effect<void, BreakerResetFailed> }
>()("integration-service/ports/operations/BreakerReset") {}

/** Redis, when configured: readiness asks it for a PING. */
export class RedisPing extends Context.Service<RedisPing, { readonly ping: Effect.Effect<void, unknown> }>()(
  "integration-service/ports/operations/RedisPing"
) {}
