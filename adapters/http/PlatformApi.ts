import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { EntityType } from "../../domain/canonical/EntityType.ts"
import { VenueId } from "../../domain/Ids.ts"
import { PlatformRecordInput } from "../../domain/platform/PlatformRecord.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

export const PlatformUpsertResponse = Schema.Struct({
  created: Schema.Int,
  updated: Schema.Int,
  unchanged: Schema.Int
}).annotate({ identifier: "PlatformUpsert" })

/** The ticketing platform's records, which outbound sync reads (JWT; admin, or venue_admin for its own venues). */
export class PlatformGroup extends HttpApiGroup.make("platform")
  .add(
    HttpApiEndpoint.put("upsert", "/platform/:entityType", {
      params: { entityType: EntityType },
      payload: Schema.Struct({ venueId: VenueId, records: Schema.Array(PlatformRecordInput) }),
      success: PlatformUpsertResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.delete("remove", "/platform/:entityType/:id", {
      params: { entityType: EntityType, id: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)) },
      query: { venueId: VenueId },
      success: Schema.Struct({ deleted: Schema.Boolean }),
      error: ApiErrors
    }).annotate(RoleRequirement, "manage")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
