import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { EntityType } from "../../domain/canonical/EntityType.ts"
import { VenueId } from "../../domain/Ids.ts"
import { Provider } from "../../domain/Provider.ts"
import { ConflictPolicy } from "../../domain/sync/ConflictPolicy.ts"
import { JobCounts, JobMode, JobStatus, Priority, SyncDirection } from "../../domain/sync/SyncJob.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

const JobSummary = Schema.Struct({
  id: Schema.String,
  entityType: EntityType,
  direction: Schema.Literals(["inbound", "outbound"]),
  mode: JobMode,
  priority: Priority,
  status: JobStatus
}).annotate({ identifier: "SyncJobSummary" })

export const SyncAccepted = Schema.Struct({ jobs: Schema.Array(JobSummary) }).annotate({ identifier: "SyncAccepted" })

const SyncLog = Schema.Struct({
  level: Schema.Literals(["info", "warn", "error"]),
  message: Schema.String,
  details: Schema.Unknown,
  at: Schema.Date
}).annotate({ identifier: "SyncLog" })

const JobDetail = Schema.Struct({
  id: Schema.String,
  entityType: EntityType,
  direction: Schema.Literals(["inbound", "outbound"]),
  mode: JobMode,
  priority: Priority,
  status: JobStatus,
  requestedBy: Schema.String,
  attempts: Schema.Int,
  mappingVersion: Schema.NullOr(Schema.Int),
  total: Schema.NullOr(Schema.Int),
  counts: JobCounts,
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  startedAt: Schema.NullOr(Schema.Date),
  finishedAt: Schema.NullOr(Schema.Date),
  durationSeconds: Schema.NullOr(Schema.Number),
  logs: Schema.Array(SyncLog)
}).annotate({ identifier: "SyncJob" })

export const SyncHistory = Schema.Struct({
  jobs: Schema.Array(JobDetail),
  nextCursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "SyncHistory" })

const EntityState = Schema.Union([JobStatus, Schema.Literals(["never_synced", "stalled", "outbound_only"])])

const CurrentJob = Schema.NullOr(
  Schema.Struct({
    id: Schema.String,
    mode: JobMode,
    status: JobStatus,
    priority: Priority,
    startedAt: Schema.NullOr(Schema.Date),
    processed: Schema.Int,
    total: Schema.NullOr(Schema.Int),
    percent: Schema.NullOr(Schema.Number),
    recordsPerSecond: Schema.NullOr(Schema.Number),
    etaSeconds: Schema.NullOr(Schema.Number)
  })
)

const EntityStatus = Schema.Struct({
  entityType: EntityType,
  state: EntityState,
  lastSuccessAt: Schema.NullOr(Schema.Date),
  lastFullSyncAt: Schema.NullOr(Schema.Date),
  nextScheduledAt: Schema.NullOr(Schema.Date),
  currentJob: CurrentJob,
  lastError: Schema.NullOr(Schema.String),
  /** The entity's outbound jobs, where the provider takes it outbound; else null. */
  outbound: Schema.NullOr(
    Schema.Struct({ state: EntityState, currentJob: CurrentJob, lastError: Schema.NullOr(Schema.String) })
  )
}).annotate({ identifier: "SyncEntityStatus" })

export const SyncStatus = Schema.Struct({ entities: Schema.Array(EntityStatus) }).annotate({ identifier: "SyncStatus" })

const FeedRecord = Schema.Struct({
  externalId: Schema.String,
  entityType: EntityType,
  change: Schema.Literals(["added", "updated", "deleted"]),
  data: Schema.Unknown,
  mappingVersion: Schema.Int,
  platformId: Schema.NullOr(Schema.String),
  updatedAt: Schema.Date
}).annotate({ identifier: "SyncedRecord" })

export const RecordsPage = Schema.Struct({
  records: Schema.Array(FeedRecord),
  nextCursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "SyncedRecords" })

export const ConflictPolicies = Schema.Struct({
  policies: Schema.Array(
    Schema.Struct({
      entityType: EntityType,
      policy: ConflictPolicy,
      /** True while no policy was saved: the default for the entity is in force. */
      isDefault: Schema.Boolean
    })
  )
}).annotate({ identifier: "ConflictPolicies" })

const providerParam = { provider: Provider }
const limit = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))
const jobId = Schema.String.check(Schema.isUUID())
const idempotencyKey = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255))

/** The sync routes, conflict policies and the change feed (JWT; POST: admin, or venue_admin for its own venues). */
export class SyncGroup extends HttpApiGroup.make("sync")
  .add(
    HttpApiEndpoint.post("sync", "/:provider/sync", {
      params: providerParam,
      headers: { "idempotency-key": Schema.optionalKey(idempotencyKey) },
      payload: Schema.Struct({
        venueId: VenueId,
        entityTypes: Schema.optionalKey(Schema.Array(EntityType).check(Schema.isMinLength(1))),
        mode: Schema.optionalKey(Schema.Literals(["incremental", "full"])),
        direction: Schema.optionalKey(SyncDirection),
        priority: Schema.optionalKey(Priority)
      }),
      success: SyncAccepted.pipe(HttpApiSchema.status(202)),
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("stop", "/:provider/sync/stop", {
      params: providerParam,
      payload: Schema.Struct({ venueId: VenueId, jobId: Schema.optionalKey(jobId) }),
      success: SyncAccepted,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("retry", "/:provider/sync/retry", {
      params: providerParam,
      payload: Schema.Struct({ venueId: VenueId, jobId: Schema.optionalKey(jobId) }),
      success: SyncAccepted.pipe(HttpApiSchema.status(202)),
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.get("status", "/:provider/sync/status", {
      params: providerParam,
      query: { venueId: VenueId },
      success: SyncStatus,
      error: ApiErrors
    }).annotate(RoleRequirement, "any"),
    HttpApiEndpoint.get("history", "/:provider/sync/history", {
      params: providerParam,
      query: {
        venueId: VenueId,
        status: Schema.optionalKey(JobStatus),
        entityType: Schema.optionalKey(EntityType),
        cursor: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(200))),
        limit: Schema.optionalKey(limit)
      },
      success: SyncHistory,
      error: ApiErrors
    }).annotate(RoleRequirement, "any"),
    HttpApiEndpoint.get("policies", "/:provider/sync/policies", {
      params: providerParam,
      query: { venueId: VenueId },
      success: ConflictPolicies,
      error: ApiErrors
    }).annotate(RoleRequirement, "any"),
    HttpApiEndpoint.put("setPolicy", "/:provider/sync/policies", {
      params: providerParam,
      payload: Schema.Struct({ venueId: VenueId, entityType: EntityType, policy: ConflictPolicy }),
      success: ConflictPolicies,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.get("records", "/:provider/records", {
      params: providerParam,
      query: {
        venueId: VenueId,
        entityType: Schema.optionalKey(EntityType),
        cursor: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(20))),
        limit: Schema.optionalKey(limit)
      },
      success: RecordsPage,
      error: ApiErrors
    }).annotate(RoleRequirement, "any")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
