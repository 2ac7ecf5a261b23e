import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { EntityType } from "../../domain/canonical/EntityType.ts"
import { VenueId } from "../../domain/Ids.ts"
import { CostGroup, Day } from "../../domain/operations/CostRange.ts"
import { Provider } from "../../domain/Provider.ts"
import { JobStatus, Priority } from "../../domain/sync/SyncJob.ts"
import { StorableText } from "../../domain/Text.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization } from "./Authorization.ts"

const limit = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))
const ConnectionStatus = Schema.Literals(["pending", "connected", "disconnected", "needs_reauth", "error"])
const HealthStatus = Schema.String.check(Schema.isPattern(/^[a-z_]{1,32}$/))
const Seconds = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Id = Schema.String.check(Schema.isUUID())

const Venue = Schema.Struct({
  tenantId: Schema.String,
  connectionId: Schema.String,
  venueId: Schema.String,
  provider: Provider,
  status: Schema.String,
  healthStatus: Schema.String,
  healthReasons: Schema.Array(Schema.String),
  healthSince: Schema.NullOr(Schema.Date),
  lastError: Schema.NullOr(Schema.String),
  lastCheckAt: Schema.NullOr(Schema.Date),
  updatedAt: Schema.Date
}).annotate({ identifier: "AdminVenue" })

const HealthSummaryRow = Schema.Struct({
  provider: Provider,
  status: Schema.String,
  healthStatus: Schema.String,
  connections: Schema.Int
}).annotate({ identifier: "AdminHealthSummaryRow" })

const ProviderHealth = Schema.Struct({
  provider: Provider,
  status: Schema.Literals(["operational", "outage"]),
  since: Schema.NullOr(Schema.Date),
  connections: Schema.Int,
  failing: Schema.Int,
  needsReauth: Schema.Int
}).annotate({
  identifier: "AdminProviderHealth",
  description:
    "The health monitor's verdict on the provider across every tenant (an outage: most of its connections failing together on its side), with the caller's connections of it, those failing (degraded or unhealthy) and those needing re-authorization."
})

const CostTotals = {
  apiCalls: Schema.Number,
  quotaCalls: Schema.Number,
  workerMillis: Schema.Number,
  costMicros: Schema.Number
}

const Costs = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  groupBy: CostGroup,
  rows: Schema.Array(
    Schema.Struct({ key: Schema.String, tenantId: Schema.NullOr(Schema.String), ...CostTotals }).annotate({
      identifier: "AdminCostRow"
    })
  ),
  totals: Schema.Struct(CostTotals)
}).annotate({
  identifier: "AdminCosts",
  description:
    "Costs over UTC days from..to (both included): calls made, calls metered against a provider quota (QuickBooks CorePlus), sync worker time, and their price in millionths of a dollar (OPERATIONS_PRICES)."
})

const ForcedJob = Schema.Struct({
  tenantId: Schema.String,
  venueId: Schema.String,
  provider: Provider,
  entityType: EntityType,
  jobId: Schema.String
}).annotate({ identifier: "AdminForcedJob" })

const QueueMetrics = Schema.Struct({
  queues: Schema.Array(
    Schema.Struct({ priority: Priority, status: JobStatus, depth: Schema.Int, oldestAgeSeconds: Schema.Number })
  ),
  throughput: Schema.Struct({ windowSeconds: Schema.Int, jobsFinished: Schema.Int, recordsFetched: Schema.Int }),
  deadLetters: Schema.Struct({ sync: Schema.Int, webhook: Schema.Int, total: Schema.Int })
}).annotate({ identifier: "AdminQueueMetrics" })

/**
 * `/api/v1/integrations/admin/…`: a tenant `admin` sees and acts on its own tenant, an `operator` on every tenant;
 * other roles get 403 (the use cases decide, after authentication). Every POST is recorded with who made it.
 */
export class AdminGroup extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("allVenues", "/all-venues", {
      query: {
        provider: Schema.optionalKey(Provider),
        status: Schema.optionalKey(ConnectionStatus),
        healthStatus: Schema.optionalKey(HealthStatus),
        cursor: Schema.optionalKey(StorableText),
        limit: Schema.optionalKey(limit)
      },
      success: Schema.Struct({ venues: Schema.Array(Venue), nextCursor: Schema.NullOr(Schema.String) }).annotate({
        identifier: "AdminVenues"
      }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("healthSummary", "/health-summary", {
      success: Schema.Struct({
        summary: Schema.Array(HealthSummaryRow),
        providers: Schema.Array(ProviderHealth)
      }).annotate({
        identifier: "AdminHealthSummary"
      }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("costs", "/costs", {
      query: {
        from: Schema.optionalKey(
          Day.annotate({ description: "the first UTC day (YYYY-MM-DD); default: 29 days before `to`" })
        ),
        to: Schema.optionalKey(
          Day.annotate({
            description: "the last UTC day (YYYY-MM-DD); the range spans at most 366 days; default: today"
          })
        ),
        groupBy: Schema.optionalKey(CostGroup.annotate({ description: "default: day" }))
      },
      success: Costs,
      error: ApiErrors
    }),
    HttpApiEndpoint.post("forceSync", "/force-sync", {
      payload: Schema.Struct({
        venueId: Schema.optionalKey(VenueId),
        provider: Schema.optionalKey(Provider),
        entityTypes: Schema.optionalKey(Schema.Array(EntityType).check(Schema.isMinLength(1)))
      }),
      success: Schema.Struct({ jobs: Schema.Array(ForcedJob) }).annotate({ identifier: "AdminForceSync" }),
      error: ApiErrors
    }),
    HttpApiEndpoint.post("clearQueue", "/clear-queue", {
      payload: Schema.Struct({
        provider: Schema.optionalKey(Provider),
        status: Schema.optionalKey(Schema.Literals(["queued", "failed", "dead", "paused"])),
        priority: Schema.optionalKey(Priority),
        olderThanSeconds: Schema.optionalKey(Seconds),
        dryRun: Schema.optionalKey(Schema.Boolean)
      }),
      success: Schema.Struct({ matched: Schema.Int, cleared: Schema.Int, dryRun: Schema.Boolean }).annotate({
        identifier: "AdminClearQueue"
      }),
      error: ApiErrors
    }),
    HttpApiEndpoint.post("processDeadLetter", "/process-dead-letter", {
      payload: Schema.Struct({
        kind: Schema.optionalKey(Schema.Literals(["sync", "webhook"])),
        action: Schema.Literals(["requeue", "discard"]),
        provider: Schema.optionalKey(Provider),
        olderThanSeconds: Schema.optionalKey(Seconds),
        ids: Schema.optionalKey(Schema.Array(Id).check(Schema.isMaxLength(1000))),
        dryRun: Schema.optionalKey(Schema.Boolean)
      }),
      success: Schema.Struct({ sync: Schema.Int, webhook: Schema.Int, dryRun: Schema.Boolean }).annotate({
        identifier: "AdminDeadLetters"
      }),
      error: ApiErrors
    }),
    HttpApiEndpoint.post("recoverStale", "/recover-stale", {
      success: Schema.Struct({ recovered: Schema.Int, jobIds: Schema.Array(Schema.String) }).annotate({
        identifier: "AdminRecoverStale"
      }),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("queueMetrics", "/queue-metrics", { success: QueueMetrics, error: ApiErrors })
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations/admin") {}
