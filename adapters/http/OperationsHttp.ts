import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { ConnectionMetrics } from "../../application/operations/ConnectionMetrics.ts"
import { toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { OperationsApi } from "./OperationsApi.ts"

export const OperationsHttp = HttpApiBuilder.group(
  OperationsApi,
  "operations",
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
