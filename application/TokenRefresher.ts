import { Clock, Config, Context, Duration, Effect, Layer, Schedule } from "effect"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"
import { TokenStore } from "../ports/TokenStore.ts"
import { TokenVault } from "./TokenVault.ts"

export interface SweepReport {
  readonly renewed: number
  readonly failed: number
}

/**
 * Renews tokens close to their limits without waiting for traffic (Square
 * every 7 days, QuickBooks refresh tokens before ~100 idle days). It finds
 * due pairs across tenants (`TokenStore.due`: a SECURITY DEFINER function
 * that returns ids only) and renews each through the TokenVault, so it takes
 * the same lock as every other refresh: several processes sweeping at once
 * still renew each pair once. The vault records each call it makes in the call ledger as `oauth_refresh`.
 */
export class TokenRefresher extends Context.Service<TokenRefresher>()(
  "integration-service/application/TokenRefresher",
  {
    make: Effect.gen(function* () {
      const store = yield* TokenStore
      const tokenVault = yield* TokenVault
      const batch = yield* Config.Int("TOKEN_REFRESH_BATCH").pipe(Config.withDefault(100))

      /** One due pair renewed (the vault records its call to the provider in the ledger, if it makes one). */
      const renew = (due: { readonly tenantId: TenantId; readonly connectionId: ConnectionId }) =>
        tokenVault.renew({ tenantId: due.tenantId, id: due.connectionId })

      const sweep = Effect.fn("TokenRefresher.sweep")(function* () {
        const at = new Date(yield* Clock.currentTimeMillis)
        const due = yield* store.due(at, batch)
        const results = yield* Effect.forEach(
          due,
          (due) =>
            renew(due).pipe(
              Effect.tapError((e) =>
                Effect.logWarning("background token renewal failed").pipe(
                  Effect.annotateLogs({ "connection.id": due.connectionId, error: e._tag })
                )
              ),
              Effect.result
            ),
          { concurrency: 2 }
        )
        const failed = results.filter((r) => r._tag === "Failure").length
        yield* Effect.annotateCurrentSpan({ "tokens.due": due.length, "tokens.failed": failed })
        return { renewed: results.length - failed, failed } satisfies SweepReport
      })

      return { sweep }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}

/**
 * The refresher as a background fiber of the service: a sweep every
 * `TOKEN_REFRESH_INTERVAL` (default 5 minutes); a failed sweep is logged and
 * the next one runs on schedule.
 */
export const TokenRefresherFiber = Layer.effectDiscard(
  Effect.gen(function* () {
    const refresher = yield* TokenRefresher
    const interval = yield* Config.Duration("TOKEN_REFRESH_INTERVAL").pipe(Config.withDefault(Duration.minutes(5)))
    yield* refresher.sweep().pipe(
      Effect.catchCause((cause) => Effect.logError("token refresher sweep failed", cause)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.forkScoped
    )
  })
)
