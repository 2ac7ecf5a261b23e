import { Config, Duration, Effect, Option } from "effect"
import type { SquareWireConfig } from "./SquareWire.ts"

/**
 * Where and how long to call Square, for its reader and its writer: `SQUARE_BASE_URL` (default
 * `https://connect.squareup.com`, the host the OAuth client uses) and `PROVIDER_TIMEOUT` per call (default 30 s).
 */
export const squareWireConfig: Effect.Effect<SquareWireConfig, Config.ConfigError> = Effect.gen(function* () {
  const baseUrl = yield* Config.option(Config.URL("SQUARE_BASE_URL"))
  const timeout = yield* Config.Duration("PROVIDER_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
  return {
    baseUrl: Option.match(baseUrl, { onNone: () => "https://connect.squareup.com", onSome: (u) => u.toString() }),
    timeout
  }
})
