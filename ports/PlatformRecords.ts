import type { Effect } from "effect"
import { Context } from "effect"
import type { EntityType } from "../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { TenantId, VenueId } from "../domain/Ids.ts"
import type { ValidRecord } from "../domain/platform/PlatformRecord.ts"

export interface UpsertOutcome {
  readonly created: number
  readonly updated: number
  /** An older or equal version: nothing changed. */
  readonly unchanged: number
}

/** The ticketing platform's own records, the source of outbound sync; every batch is one transaction. */
export class PlatformRecords extends Context.Service<
  PlatformRecords,
  {
    readonly upsert: (
      tenantId: TenantId,
      venueId: VenueId,
      entityType: EntityType,
      records: ReadonlyArray<ValidRecord>
    ) => Effect.Effect<UpsertOutcome, StoreUnavailable>
    /** Marks the record deleted; false when the venue has no such record. */
    readonly remove: (
      tenantId: TenantId,
      venueId: VenueId,
      entityType: EntityType,
      id: string
    ) => Effect.Effect<boolean, StoreUnavailable>
  }
>()("integration-service/ports/PlatformRecords") {}
