import { Schema } from "effect"
import { EntityType } from "../canonical/EntityType.ts"
import { VenueId } from "../Ids.ts"
import { Provider } from "../Provider.ts"
import { Direction, MappingProblem } from "./Rule.ts"

/** The mapping changed since the caller read it (`expectedVersion`). */
export class MappingVersionConflict extends Schema.TaggedError<MappingVersionConflict>()("MappingVersionConflict", {
  expectedVersion: Schema.Int,
  currentVersion: Schema.Int
}) {}

/** Rules that do not validate against the catalogs of their two sides: every problem, with its rule and field. */
export class InvalidMapping extends Schema.TaggedError<InvalidMapping>()("InvalidMapping", {
  problems: Schema.Array(MappingProblem)
}) {}

export class MappingNotFound extends Schema.TaggedError<MappingNotFound>()("MappingNotFound", {
  venueId: VenueId,
  provider: Provider,
  entityType: EntityType,
  direction: Direction,
  version: Schema.NullOr(Schema.Int)
}) {}

export class TemplateNotFound extends Schema.TaggedError<TemplateNotFound>()("TemplateNotFound", {
  template: Schema.String,
  message: Schema.String
}) {}

export class TemplateNameTaken extends Schema.TaggedError<TemplateNameTaken>()("TemplateNameTaken", {
  name: Schema.String
}) {}
