import { Context, Effect, Layer, Schema } from "effect"
import { type EntityType, EntityType as EntityTypeSchema } from "../../domain/canonical/EntityType.ts"
import { Unprocessable } from "../../domain/Errors.ts"
import type { VenueId } from "../../domain/Ids.ts"
import type { Principal } from "../../domain/Principal.ts"
import { maxBatch, type PlatformRecordInput, validateBatch } from "../../domain/platform/PlatformRecord.ts"
import { PlatformRecords } from "../../ports/PlatformRecords.ts"
import { requireManage } from "../Authorize.ts"
import { SyncJobs } from "../sync/SyncJobs.ts"

/** A batch with invalid records: every problem, each naming its record index and field; nothing was written. */
export class InvalidPlatformRecords extends Schema.TaggedError<InvalidPlatformRecords>()("InvalidPlatformRecords", {
  problems: Schema.Array(Schema.Struct({ index: Schema.Int, field: Schema.String, message: Schema.String }))
}) {}

/** The venue has no record of that entity type and id. */
export class PlatformRecordNotFound extends Schema.TaggedError<PlatformRecordNotFound>()("PlatformRecordNotFound", {
  entityType: EntityTypeSchema,
  id: Schema.String
}) {}

/**
 * The platform's integration point for outbound sync: batches of its records upserted (validated against the
 * canonical Schemas, all or nothing, idempotent by version) and deletions marked.
 */
export class PlatformData extends Context.Service<PlatformData>()(
  "integration-service/application/platform/PlatformData",
  {
    make: Effect.gen(function* () {
      const records = yield* PlatformRecords
      const syncJobs = yield* SyncJobs

      /**
       * Outbound jobs for the venue's connections that take the entity. The records are already committed: a failure
       * here is logged, and the scheduler's periodic outbound pass pushes the change later.
       */
      const schedule = (principal: Principal, venueId: VenueId, entityType: EntityType) =>
        syncJobs
          .platformChanged(principal.tenantId, venueId, entityType, principal.userId)
          .pipe(
            Effect.catch((e) =>
              Effect.logWarning("outbound sync not scheduled; the periodic pass will push the change", e.message)
            )
          )

      const upsert = Effect.fn("PlatformData.upsert")(function* (
        principal: Principal,
        venueId: VenueId,
        entityType: EntityType,
        batch: ReadonlyArray<PlatformRecordInput>
      ) {
        yield* Effect.annotateCurrentSpan({ "platform.entity": entityType, "platform.records": batch.length })
        yield* requireManage(principal, venueId)
        if (batch.length === 0 || batch.length > maxBatch)
          return yield* new Unprocessable({
            field: "records",
            message: `send 1 to ${maxBatch} records, not ${batch.length}`
          })
        const { valid, problems } = validateBatch(entityType, batch)
        if (problems.length > 0) return yield* new InvalidPlatformRecords({ problems })
        const outcome = yield* records.upsert(principal.tenantId, venueId, entityType, valid)
        if (outcome.created + outcome.updated > 0) yield* schedule(principal, venueId, entityType)
        return outcome
      })

      const remove = Effect.fn("PlatformData.remove")(function* (
        principal: Principal,
        venueId: VenueId,
        entityType: EntityType,
        id: string
      ) {
        yield* requireManage(principal, venueId)
        const found = yield* records.remove(principal.tenantId, venueId, entityType, id)
        if (!found) return yield* new PlatformRecordNotFound({ entityType, id })
        yield* schedule(principal, venueId, entityType)
      })

      return { upsert, remove }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
