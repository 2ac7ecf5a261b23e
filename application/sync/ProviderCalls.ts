import {
  Cause,
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  Schedule,
  Schema,
  Semaphore
} from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { type Provider, providers } from "../../domain/Provider.ts"
import { type Budget, bucketOf, defaultBudgets } from "../../domain/sync/Budget.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import type { ProviderCallFailed } from "../../ports/sync/ProviderData.ts"
import { recordProviderCall } from "../Metrics.ts"
import { ledgered } from "../operations/Ledgered.ts"

/** Whose call: the budget is the account's, the breakers the provider's and the connection's. */
export interface CallTarget {
  readonly provider: Provider
  /** The provider's account (realm, merchant, key owner): budgets are per account, not per connection. */
  readonly account: string
  readonly connectionId: string
}

/** An account's budget and this process's use of it: calls made, time spent waiting for the budget, 429s met. */
export interface BudgetUse {
  readonly provider: Provider
  readonly account: string
  readonly connectionIds: ReadonlyArray<string>
  readonly limit: number
  readonly windowMillis: number
  readonly concurrency: number
  /** The token bucket's sustained rate (a little under limit / window: see domain/sync/Budget.ts). */
  readonly steadyPerSecond: number
  readonly calls: number
  readonly waitedMillis: number
  readonly rateLimited: number
}

/** The call was not made: a breaker is open, or the provider kept answering 429. Delay the work, do not fail it. */
export class CallDelayed extends Schema.TaggedError<CallDelayed>()("CallDelayed", {
  retryAfterMillis: Schema.Number,
  reason: Schema.String
}) {}

const budgetConfig = (provider: Provider) => {
  const fallback = defaultBudgets[provider]
  const name = provider.toUpperCase()
  return Config.all({
    limit: Config.Int(`SYNC_BUDGET_${name}_LIMIT`).pipe(Config.withDefault(fallback.limit)),
    windowMillis: Config.Duration(`SYNC_BUDGET_${name}_WINDOW`).pipe(
      Config.map(Duration.toMillis),
      Config.withDefault(fallback.windowMillis)
    ),
    concurrency: Config.Int(`SYNC_BUDGET_${name}_CONCURRENCY`).pipe(Config.withDefault(fallback.concurrency))
  })
}

export const ProviderCallsConfig = Config.all({
  retries: Config.Int("SYNC_RETRY_ATTEMPTS").pipe(Config.withDefault(3)),
  retryBase: Config.Duration("SYNC_RETRY_BASE_DELAY").pipe(Config.withDefault(Duration.millis(200))),
  breakerFailures: Config.Int("SYNC_BREAKER_FAILURES").pipe(Config.withDefault(3)),
  breakerOpen: Config.Duration("SYNC_BREAKER_OPEN").pipe(Config.withDefault(Duration.seconds(30))),
  /** 429s in a row on one call before the work is delayed instead of waiting on. */
  rateLimitWaits: Config.Int("SYNC_RATE_LIMIT_WAITS").pipe(Config.withDefault(20))
})

const failedWith =
  (kind: ProviderCallFailed["kind"]) =>
  (e: unknown): e is ProviderCallFailed =>
    typeof e === "object" &&
    e !== null &&
    (e as ProviderCallFailed)._tag === "ProviderCallFailed" &&
    (e as ProviderCallFailed).kind === kind
const isUnavailable = failedWith("unavailable")
const rateLimited = failedWith("rate_limited")

/**
 * Every provider call of a sync goes through here: the account's budget (Effect's `RateLimiter` as a token bucket that never exceeds it in any window, on Redis when
 * configured, so every process shares it; plus at most `concurrency` in flight in this process), transient failures
 * retried on an exponential, jittered schedule, and two `CircuitBreaker`s — the connection's (consecutive failures)
 * and the provider's (failure rate across connections: an outage, not a thousand venue problems). Only
 * `unavailable` counts against a breaker. A 429 pauses every call of that account until its `Retry-After` has
 * passed, then tries again; it is never a failure.
 */
export class ProviderCalls extends Context.Service<ProviderCalls>()(
  "integration-service/application/sync/ProviderCalls",
  {
    make: Effect.gen(function* () {
      const config = yield* ProviderCallsConfig
      const limiter = yield* RateLimiter.RateLimiter
      const budgets = {} as Record<Provider, Budget>
      for (const provider of providers) budgets[provider] = yield* budgetConfig(provider)
      const openDuration = Schedule.exponential(config.breakerOpen)
      const connectionBreaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(config.breakerFailures),
        openDuration,
        maxOpenDuration: Duration.times(config.breakerOpen, 8)
      })
      const providerBreaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 50, minimumCalls: 20 }),
        openDuration,
        maxOpenDuration: Duration.times(config.breakerOpen, 8)
      })
      const inFlight = new Map<string, Semaphore.Semaphore>()
      const usage = new Map<
        string,
        {
          provider: Provider
          account: string
          connectionIds: Set<string>
          calls: number
          waitedMillis: number
          rateLimited: number
        }
      >()
      const usageOf = (target: CallTarget, key: string) => {
        let u = usage.get(key)
        if (u === undefined) {
          u = {
            provider: target.provider,
            account: target.account,
            connectionIds: new Set(),
            calls: 0,
            waitedMillis: 0,
            rateLimited: 0
          }
          usage.set(key, u)
        }
        u.connectionIds.add(target.connectionId)
        return u
      }
      const pausedUntil = new Map<string, number>()
      const ledger = yield* Effect.serviceOption(CallLedger)

      const permits = (key: string, n: number) => {
        let s = inFlight.get(key)
        if (s === undefined) {
          s = Semaphore.makeUnsafe(n)
          inFlight.set(key, s)
        }
        return s
      }

      /** Only an outage counts against a breaker; a 429, a refused token or a bad request says nothing of health. */
      const outcome = <A, E>(exit: Exit.Exit<A, E>): CircuitBreaker.Outcome => {
        if (Exit.isSuccess(exit)) return CircuitBreaker.success
        const error = Cause.findErrorOption(exit.cause)
        return Option.isSome(error) && isUnavailable(error.value) ? CircuitBreaker.failure() : CircuitBreaker.ignored
      }

      const call = <A, E, R>(
        target: CallTarget,
        operation: string,
        effect: Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | CallDelayed, R> => {
        const budget = budgets[target.provider]
        const bucket = bucketOf(budget)
        const key = `${target.provider}:${target.account}`
        const waitForPause = Effect.gen(function* () {
          const until = pausedUntil.get(key) ?? 0
          const now = yield* Clock.currentTimeMillis
          if (until > now) yield* Effect.sleep(Duration.millis(until - now))
        })
        // The in-flight permit first, then the budget's token, then the call: a call leaves as soon as its token
        // is granted. (A token taken before waiting for a permit would be spent late, and calls released together
        // by freed permits would reach the provider as a burst over its window.)
        const use = usageOf(target, key)
        const waitForToken = waitForPause.pipe(
          Effect.andThen(
            RateLimiter.sleep(limiter, {
              key: `budget:${key}`,
              limit: bucket.limit,
              window: Duration.millis(bucket.windowMillis),
              algorithm: "token-bucket"
            })
          ),
          // A budget store that fails admits the call: the provider's own 429 still protects it.
          Effect.catchTag("RateLimiterError", () => Effect.void)
        )
        const attempt = permits(key, budget.concurrency)
          .withPermits(1)(
            Effect.flatMap(Clock.currentTimeMillis, (asked) =>
              waitForToken.pipe(
                Effect.andThen(Clock.currentTimeMillis),
                Effect.andThen((granted) => {
                  use.calls++
                  use.waitedMillis += granted - asked
                  return ledgered(
                    ledger,
                    target,
                    operation,
                    effect.pipe(recordProviderCall(target.provider, operation))
                  )
                })
              )
            )
          )
          .pipe(
            Effect.retry({
              while: isUnavailable,
              schedule: Schedule.exponential(config.retryBase).pipe(Schedule.jittered),
              times: config.retries
            }),
            connectionBreaker.execute({ key: `connection:${target.connectionId}`, classify: outcome }),
            providerBreaker.execute({ key: `provider:${target.provider}`, classify: outcome }),
            Effect.catch(
              (e): Effect.Effect<never, E | CallDelayed> =>
                e instanceof CircuitBreaker.CircuitBreakerError
                  ? Effect.fail(
                      new CallDelayed({
                        retryAfterMillis:
                          e.reason._tag === "CircuitOpen" ? Duration.toMillis(e.reason.retryAfter) : 1_000,
                        reason: e.message
                      })
                    )
                  : Effect.fail(e as E)
            )
          )
        const loop = (waits: number): Effect.Effect<A, E | CallDelayed, R> =>
          attempt.pipe(
            Effect.catch((error): Effect.Effect<A, E | CallDelayed, R> => {
              if (!rateLimited(error)) return Effect.fail(error)
              const e = error
              return Effect.gen(function* () {
                const wait = e.retryAfterMillis ?? 1_000
                const now = yield* Clock.currentTimeMillis
                pausedUntil.set(key, Math.max(pausedUntil.get(key) ?? 0, now + wait))
                usageOf(target, key).rateLimited++
                if (waits + 1 >= config.rateLimitWaits)
                  return yield* new CallDelayed({ retryAfterMillis: wait, reason: e.message })
                yield* Effect.logInfo("provider rate limit: waiting").pipe(
                  Effect.annotateLogs({ provider: target.provider, "retry.after.ms": wait })
                )
                return yield* loop(waits + 1)
              })
            })
          )
        return loop(0)
      }

      const breakerState = (key: string) =>
        (key.startsWith("provider:") ? providerBreaker : connectionBreaker).state(key)

      /** Each account's budget and what this process has spent of it since it started. */
      const budgetUse = (): ReadonlyArray<BudgetUse> =>
        [...usage.values()].map((u) => {
          const budget = budgets[u.provider]
          const bucket = bucketOf(budget)
          return {
            provider: u.provider,
            account: u.account,
            connectionIds: [...u.connectionIds],
            limit: budget.limit,
            windowMillis: budget.windowMillis,
            concurrency: budget.concurrency,
            steadyPerSecond: (bucket.limit * 1000) / bucket.windowMillis,
            calls: u.calls,
            waitedMillis: u.waitedMillis,
            rateLimited: u.rateLimited
          }
        })

      return { call, budgets, breakerState, budgetUse }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
