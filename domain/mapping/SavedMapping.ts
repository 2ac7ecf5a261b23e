import { Schema } from "effect"
import { EntityType } from "../canonical/EntityType.ts"
import { ConnectionId, type TenantId } from "../Ids.ts"
import { Provider } from "../Provider.ts"
import { Direction, Rules } from "./Rule.ts"

/** `broken` while some rules name provider fields that no longer exist, until heal repairs or disables them. */
export const MappingStatus = Schema.Literals(["ok", "broken"])
export type MappingStatus = typeof MappingStatus.Type

/** A rule whose provider field is gone: its index and the path it names. */
export const BrokenRule = Schema.Struct({ rule: Schema.Int, field: Schema.String }).annotate({
  identifier: "BrokenRule"
})
export type BrokenRule = typeof BrokenRule.Type

/** Which mapping: one per connection × entity type × direction. */
export interface MappingKey {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: EntityType
  readonly direction: Direction
}

/** One version of a mapping; `template` names what it was made from (`builtin:<name>`, `tenant:<id>`), if anything. */
export class SavedMapping extends Schema.Class<SavedMapping>("SavedMapping")({
  connectionId: ConnectionId,
  entityType: EntityType,
  direction: Direction,
  version: Schema.Int,
  rules: Rules,
  template: Schema.NullOr(Schema.String),
  updatedAt: Schema.Date,
  updatedBy: Schema.String,
  status: MappingStatus,
  brokenRules: Schema.Array(BrokenRule)
}) {}

/** What a save writes; the store assigns the version. */
export interface MappingDraft {
  readonly rules: SavedMapping["rules"]
  readonly template: string | null
  readonly updatedBy: string
  readonly at: Date
  /** The version the caller read (0: none yet); absent: save over whatever is there. */
  readonly expectedVersion?: number | undefined
}

export const templateName = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100))

/** A template as listed: a built-in one (one per venue type) or a tenant's own. */
export const MappingTemplate = Schema.Struct({
  /** `builtin:<name>` or `tenant:<uuid>`: what apply-template takes. */
  id: Schema.String,
  kind: Schema.Literals(["builtin", "tenant"]),
  provider: Provider,
  entityType: EntityType,
  direction: Direction,
  name: Schema.String,
  venueType: Schema.NullOr(Schema.String),
  rules: Rules,
  usageCount: Schema.Number
}).annotate({ identifier: "MappingTemplate" })
export type MappingTemplate = typeof MappingTemplate.Type
