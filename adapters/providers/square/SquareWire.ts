import { Clock, Duration, Effect, Redacted } from "effect"
import { SquareClient } from "square"
import type { ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import { squareCallFailed, squareTimedOut } from "./SquareFailure.ts"

export interface SquareWireConfig {
  readonly baseUrl: string
  readonly timeout: Duration.Duration
}

/** A successful answer as Square sent it. */
export interface WireAnswer {
  /** The JSON body, snake_case: the SDK's parsed objects are camelCased and money is bigint. */
  readonly body: Record<string, unknown>
  /** The response's `Date` header: Square's own clock. */
  readonly date: Date | null
}

/**
 * One call on the official `square` SDK (its retries off, the caller's policy decides) whose body is also kept as
 * sent, through the client's `fetch` option: records must stay the provider's objects, unchanged.
 */
export const squareCall = (
  config: SquareWireConfig,
  token: Redacted.Redacted<string>,
  operation: string,
  run: (client: SquareClient, signal: AbortSignal) => Promise<unknown>
): Effect.Effect<WireAnswer, ProviderCallFailed> =>
  Effect.tryPromise({
    try: async (signal) => {
      let answered: Response | undefined
      const client = new SquareClient({
        baseUrl: config.baseUrl,
        token: Redacted.value(token),
        maxRetries: 0,
        timeoutInSeconds: Math.max(1, Math.ceil(Duration.toSeconds(config.timeout))),
        fetch: async (input, init) => {
          const response = await fetch(input, init)
          if (response.ok) answered = response.clone()
          return response
        }
      })
      await run(client, signal)
      if (answered === undefined) throw new Error("no response")
      const date = Date.parse(answered.headers.get("date") ?? "")
      return {
        body: (await answered.json()) as Record<string, unknown>,
        date: Number.isNaN(date) ? null : new Date(date)
      }
    },
    catch: (cause) => cause
  }).pipe(
    Effect.catch((cause) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(squareCallFailed(operation, cause, now)))
    ),
    Effect.timeoutOrElse({
      duration: config.timeout,
      orElse: () => Effect.fail(squareTimedOut(operation))
    })
  )
