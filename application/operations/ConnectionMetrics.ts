import { Clock, Context, Effect, Layer, Option } from "effect"
import { ConnectionNotFound } from "../../domain/Errors.ts"
import type { VenueId } from "../../domain/Ids.ts"
import { type MetricsPeriod, rangeOf, report } from "../../domain/operations/MetricsReport.ts"
import type { Principal } from "../../domain/Principal.ts"
import type { Provider } from "../../domain/Provider.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { ConnectionActivity } from "../../ports/operations/ConnectionActivity.ts"
import { requireRead } from "../Authorize.ts"

/**
 * The metrics of one venue's connection to a provider over 24 hours (hourly buckets) or 7 or 30 days (daily):
 * provider calls from the call ledger, sync runs and webhook events. A disconnected connection still answers: its
 * history is what an operator looks at.
 */
export class ConnectionMetrics extends Context.Service<ConnectionMetrics>()(
  "integration-service/application/operations/ConnectionMetrics",
  {
    make: Effect.gen(function* () {
      const connections = yield* ConnectionStore
      const activity = yield* ConnectionActivity

      const metrics = Effect.fn("ConnectionMetrics.metrics")(function* (
        principal: Principal,
        provider: Provider,
        venueId: VenueId,
        period: MetricsPeriod
      ) {
        yield* requireRead(principal, venueId)
        const found = yield* connections.find(principal.tenantId, venueId, provider)
        if (Option.isNone(found)) return yield* new ConnectionNotFound({ provider, venueId })
        const connection = found.value
        const range = rangeOf(period, yield* Clock.currentTimeMillis)
        const rows = yield* activity.read({
          tenantId: principal.tenantId,
          connectionId: connection.id,
          from: range.from,
          to: range.to,
          granularity: range.granularity
        })
        return { connection, ...report(range, rows) }
      })

      return { metrics }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
