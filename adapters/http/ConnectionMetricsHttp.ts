import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { ConnectionMetrics } from "../../application/operations/ConnectionMetrics.ts"
import { Api } from "./Api.ts"
import { toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

export const ConnectionMetricsHttp = HttpApiBuilder.group(
  Api,
  "connectionMetrics",
  Effect.fn(function* (handlers) {
    const metrics = yield* ConnectionMetrics
    return handlers.handle("connectionMetrics", ({ params, query }) =>
      CurrentPrincipal.use((p) => metrics.metrics(p, params.provider, query.venueId, query.period ?? "24h")).pipe(
        Effect.map(({ connection, range, totals, buckets }) => ({
          provider: connection.provider,
          venueId: connection.venueId,
          connectionId: connection.id,
          period: range.period,
          granularity: range.granularity,
          from: range.from,
          to: range.to,
          totals,
          buckets
        })),
        Effect.mapError(toHttpError)
      )
    )
  })
)
