import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { VenueId } from "../../domain/Ids.ts"
import { MetricsPeriod } from "../../domain/operations/MetricsReport.ts"
import { Provider } from "../../domain/Provider.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

const count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const millis = Schema.NullOr(Schema.Number)

const Summary = {
  calls: Schema.Struct({
    total: count,
    ok: count,
    successRate: Schema.NullOr(Schema.Number),
    errors: Schema.Struct({ "4xx": count, "429": count, "5xx": count, timeout: count }),
    rateLimited: count,
    bytes: count,
    latencyMs: Schema.Struct({ p50: millis, p95: millis, p99: millis, mean: millis, max: millis })
  }).annotate({ identifier: "ProviderCallMetrics" }),
  syncs: Schema.Struct({ runs: count, failed: count, records: count }).annotate({ identifier: "SyncRunMetrics" }),
  webhooks: Schema.Struct({ received: count, failed: count, dead: count }).annotate({ identifier: "WebhookMetrics" })
}

export const ConnectionMetricsResponse = Schema.Struct({
  provider: Provider,
  venueId: VenueId,
  connectionId: Schema.String,
  period: MetricsPeriod,
  granularity: Schema.Literals(["hour", "day"]),
  from: Schema.Date,
  to: Schema.Date,
  totals: Schema.Struct(Summary).annotate({ identifier: "ConnectionMetricsSummary" }),
  buckets: Schema.Array(
    Schema.Struct({ start: Schema.Date, ...Summary }).annotate({ identifier: "ConnectionMetricsBucket" })
  )
}).annotate({ identifier: "ConnectionMetrics" })

/**
 * One connection's operations metrics (JWT, any role with read access to the venue). The path sits under
 * `/health/:provider` next to HealthGroup's `GET /health/:provider` and `POST /health/:provider/test`, which it does
 * not overlap.
 */
export class ConnectionMetricsGroup extends HttpApiGroup.make("connectionMetrics")
  .add(
    HttpApiEndpoint.get("connectionMetrics", "/health/:provider/metrics", {
      params: { provider: Provider },
      query: { venueId: VenueId, period: Schema.optionalKey(MetricsPeriod) },
      success: ConnectionMetricsResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "any")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
