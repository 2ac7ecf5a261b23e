import { Cause, Clock, Effect, Exit, Option } from "effect"
import { type CallOutcome, outcomeOfFailure } from "../../domain/operations/CallOutcome.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { CallLedger } from "../../ports/operations/CallLedger.ts"

/** Whose call it was: the ledger counts per connection. */
export interface LedgerTarget {
  readonly provider: Provider
  readonly connectionId: string
}

/** How an ended call counts in the ledger; `null`: no call reached the provider, nothing is recorded. */
export type Classify<A, E> = (exit: Exit.Exit<A, E>) => CallOutcome | null

const errorOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** The adapters' own failures (`ProviderCallFailed`: kind, status) by class; a success is `ok`. */
export const outcomeOfExit = <A, E>(exit: Exit.Exit<A, E>): CallOutcome =>
  Exit.isSuccess(exit) ? "ok" : outcomeOfFailure(errorOf(exit))

/**
 * A call made with a venue's credentials (a token endpoint through the TokenVault or an OAuth client, an API call with
 * an access token or API key): a refused grant, token or key is the provider answering 4xx; `ProviderUnavailable` is
 * its outage (5xx, 429, the network) when retryable, else a refusal (4xx). Anything else (no tokens stored, the
 * database) happened before or after the call: not counted.
 */
export const outcomeOfCredentialCall = <A, E>(exit: Exit.Exit<A, E>): CallOutcome | null => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = errorOf(exit) as { readonly _tag?: unknown; readonly retryable?: unknown } | undefined
  switch (error?._tag) {
    case "OAuthGrantRejected":
    case "ReauthorizationRequired":
    case "InvalidCredentials":
      return "4xx"
    case "ProviderUnavailable":
      return error.retryable === true ? "5xx" : "4xx"
    default:
      return null
  }
}

/**
 * One call that ended now, started at `start` (epoch ms), into the ledger when there is one: for a call whose
 * connection is known only once it ended (a code exchange creates it).
 */
export const recordEnded = (
  ledger: Option.Option<CallLedger["Service"]>,
  target: LedgerTarget,
  operation: string,
  outcome: CallOutcome,
  start: number
): Effect.Effect<void> =>
  Option.isNone(ledger)
    ? Effect.void
    : Effect.flatMap(Clock.currentTimeMillis, (at) =>
        ledger.value.record({
          provider: target.provider,
          connectionId: target.connectionId,
          operation,
          outcome,
          latencyMs: at - start,
          bytes: 0,
          at
        })
      )

/**
 * Each run of `effect` into the call ledger, when there is one: its outcome class (`classify`) and latency; bytes
 * are not known here. An interrupted call is not counted. The one way every application path (sync calls, token
 * calls, webhook registration, health checks) records what it asked of a provider.
 */
export const ledgered = <A, E, R>(
  ledger: Option.Option<CallLedger["Service"]>,
  target: LedgerTarget,
  operation: string,
  effect: Effect.Effect<A, E, R>,
  classify: Classify<A, E> = outcomeOfExit
): Effect.Effect<A, E, R> =>
  Option.isNone(ledger)
    ? effect
    : Effect.flatMap(Clock.currentTimeMillis, (start) =>
        effect.pipe(
          Effect.onExit((exit) => {
            const outcome = Exit.hasInterrupts(exit) ? null : classify(exit)
            return outcome === null ? Effect.void : recordEnded(ledger, target, operation, outcome, start)
          })
        )
      )
