import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Provider } from "../../domain/Provider.ts"
import { StorableText } from "../../domain/Text.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization } from "./Authorization.ts"

const Ms = Schema.NullOr(Schema.Number)
const Operation = Schema.Struct({
  provider: Schema.String,
  operation: Schema.String,
  calls: Schema.Int,
  successRate: Schema.Number,
  p50Ms: Ms,
  p95Ms: Ms,
  p99Ms: Ms,
  meanMs: Ms,
  maxMs: Ms
}).annotate({ identifier: "OperationPerformance" })

const DeadLetterKind = Schema.Literals(["sync", "webhook"])
const DeadLetter = Schema.Struct({
  kind: DeadLetterKind,
  tenantId: Schema.String,
  id: Schema.String,
  provider: Provider,
  reason: Schema.String,
  failedAt: Schema.Date
}).annotate({ identifier: "DeadLetter" })

const Breaker = Schema.Struct({
  name: Schema.String,
  scope: Schema.Literals(["provider", "connection"]),
  provider: Provider,
  tenantId: Schema.NullOr(Schema.String),
  venueId: Schema.NullOr(Schema.String),
  state: Schema.Literals(["closed", "open", "half_open", "unknown"]),
  retryAfterSeconds: Schema.NullOr(Schema.Number),
  consecutiveOpenings: Schema.Int
}).annotate({ identifier: "CircuitBreaker" })

/** `/monitoring/…` for a tenant `admin` (its tenant) and an `operator` (every tenant). */
export class MonitoringOpsGroup extends HttpApiGroup.make("monitoringOps")
  .add(
    HttpApiEndpoint.get("performance", "/performance", {
      success: Schema.Struct({
        source: Schema.String,
        operations: Schema.Array(Operation),
        slowest: Schema.Array(Operation)
      }).annotate({ identifier: "Performance" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("dlq", "/dlq", {
      success: Schema.Struct({
        total: Schema.Int,
        byProvider: Schema.Array(Schema.Struct({ kind: DeadLetterKind, provider: Provider, count: Schema.Int })),
        byReason: Schema.Array(
          Schema.Struct({ kind: DeadLetterKind, provider: Provider, reason: Schema.String, count: Schema.Int })
        ),
        topPatterns: Schema.Array(Schema.Struct({ kind: DeadLetterKind, pattern: Schema.String, count: Schema.Int })),
        deadLetters: Schema.Array(DeadLetter),
        underReview: Schema.Array(
          Schema.Struct({
            ...DeadLetter.fields,
            note: Schema.String,
            reviewedBy: Schema.String,
            reviewedAt: Schema.Date
          })
        )
      }).annotate({ identifier: "DeadLetterQueue" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.post("review", "/dlq/review", {
      payload: Schema.Struct({
        kind: DeadLetterKind,
        id: Schema.String.check(Schema.isUUID()),
        note: StorableText.check(Schema.isMinLength(1), Schema.isMaxLength(2000))
      }),
      success: Schema.Struct({
        kind: DeadLetterKind,
        id: Schema.String,
        note: Schema.String,
        tenantId: Schema.String,
        provider: Provider,
        reviewedBy: Schema.String
      }).annotate({ identifier: "DeadLetterReview" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("metrics", "/metrics", {
      success: Schema.Struct({
        source: Schema.String,
        budgets: Schema.Array(
          Schema.Struct({
            provider: Provider,
            account: Schema.String,
            connectionIds: Schema.Array(Schema.String),
            limit: Schema.Int,
            windowMillis: Schema.Number,
            concurrency: Schema.Int,
            steadyPerSecond: Schema.Number,
            calls: Schema.Int,
            waitedMillis: Schema.Number,
            rateLimited: Schema.Int
          }).annotate({ identifier: "BudgetUse" })
        )
      }).annotate({ identifier: "MonitoringMetrics" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("circuitBreakers", "/circuit-breakers", {
      success: Schema.Struct({ breakers: Schema.Array(Breaker) }).annotate({ identifier: "CircuitBreakers" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.post("resetCircuitBreaker", "/circuit-breakers/:name/reset", {
      params: { name: StorableText.check(Schema.isMaxLength(100)) },
      success: Schema.Struct({
        name: Schema.String,
        provider: Provider,
        previous: Schema.String,
        state: Schema.String,
        retryAfterSeconds: Schema.NullOr(Schema.Number),
        consecutiveOpenings: Schema.Int
      }).annotate({ identifier: "CircuitBreakerReset" }),
      error: ApiErrors
    })
  )
  .middleware(Authorization)
  .prefix("/monitoring") {}
