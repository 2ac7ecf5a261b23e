import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { EntityType } from "../../domain/canonical/EntityType.ts"
import { VenueId } from "../../domain/Ids.ts"
import { FieldSpec } from "../../domain/mapping/FieldCatalog.ts"
import { HealChange } from "../../domain/mapping/Heal.ts"
import { Direction, Rules } from "../../domain/mapping/Rule.ts"
import { BrokenRule, MappingStatus, MappingTemplate, templateName } from "../../domain/mapping/SavedMapping.ts"
import { Provider } from "../../domain/Provider.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

export const MappingResponse = Schema.Struct({
  entityType: EntityType,
  direction: Direction,
  /** 0: nothing saved yet; the rules are the default template's. */
  version: Schema.Int,
  rules: Rules,
  /** `builtin:<name>` or `tenant:<id>` when the rules came from a template. */
  template: Schema.NullOr(Schema.String),
  updatedAt: Schema.NullOr(Schema.Date),
  updatedBy: Schema.NullOr(Schema.String),
  status: MappingStatus,
  brokenRules: Schema.Array(BrokenRule)
}).annotate({ identifier: "Mapping" })

export const FieldsResponse = Schema.Struct({
  entityType: EntityType,
  /** The provider's standard fields of the entity. */
  standard: Schema.Array(FieldSpec),
  /** The connection's custom fields, discovered from the provider (cached for a minute). */
  custom: Schema.Array(FieldSpec),
  /** The platform's side. */
  canonical: Schema.Array(FieldSpec)
}).annotate({ identifier: "MappingFields" })

const RuleIssue = Schema.Struct({
  rule: Schema.Int,
  field: Schema.String,
  kind: Schema.Literals(["truncated", "coerced", "defaulted", "error"]),
  message: Schema.String
}).annotate({ identifier: "MappingRuleIssue" })

export const MappingTestResponse = Schema.Struct({
  results: Schema.Array(
    Schema.Struct({
      output: Schema.Record(Schema.String, Schema.Unknown),
      warnings: Schema.Array(RuleIssue),
      errors: Schema.Array(RuleIssue)
    })
  )
}).annotate({ identifier: "MappingTest" })

export const MappingsResponse = Schema.Struct({ mappings: Schema.Array(MappingResponse) }).annotate({
  identifier: "Mappings"
})

export const HealResponse = Schema.Struct({
  dryRun: Schema.Boolean,
  mappings: Schema.Array(
    Schema.Struct({
      entityType: EntityType,
      direction: Direction,
      fromVersion: Schema.Int,
      version: Schema.Int,
      changes: Schema.Array(HealChange)
    })
  )
}).annotate({ identifier: "MappingHeal" })

export const TemplatesResponse = Schema.Struct({ templates: Schema.Array(MappingTemplate) }).annotate({
  identifier: "MappingTemplates"
})

const providerParam = { provider: Provider }
const target = { venueId: VenueId, entityType: EntityType, direction: Direction }
const version = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** The seven mapping routes and the templates (JWT; admin, or venue_admin for its own venues). */
export class MappingsGroup extends HttpApiGroup.make("mappings")
  .add(
    HttpApiEndpoint.get("fields", "/:provider/fields", {
      params: providerParam,
      query: { venueId: VenueId, entityType: EntityType, direction: Schema.optionalKey(Direction) },
      success: FieldsResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.get("get", "/:provider/mappings", {
      params: providerParam,
      query: {
        ...target,
        version: Schema.optionalKey(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1)))
      },
      success: MappingResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.put("put", "/:provider/mappings", {
      params: providerParam,
      payload: Schema.Struct({ ...target, rules: Rules, expectedVersion: Schema.optionalKey(version) }),
      success: MappingResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("test", "/:provider/mappings/test", {
      params: providerParam,
      payload: Schema.Struct({
        ...target,
        rules: Schema.optionalKey(Rules),
        samples: Schema.optionalKey(Schema.Array(Schema.Unknown))
      }),
      success: MappingTestResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("applyTemplate", "/:provider/mappings/apply-template", {
      params: providerParam,
      payload: Schema.Struct({
        venueId: VenueId,
        template: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
        entityType: Schema.optionalKey(EntityType)
      }),
      success: MappingsResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("reset", "/:provider/mappings/reset", {
      params: providerParam,
      payload: Schema.Struct({
        venueId: VenueId,
        entityType: Schema.optionalKey(EntityType),
        direction: Schema.optionalKey(Direction)
      }),
      success: MappingsResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("heal", "/:provider/mappings/heal", {
      params: providerParam,
      payload: Schema.Struct({ venueId: VenueId, dryRun: Schema.optionalKey(Schema.Boolean) }),
      success: HealResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("saveTemplate", "/:provider/mappings/templates", {
      params: providerParam,
      payload: Schema.Struct({ ...target, name: templateName }),
      success: MappingTemplate.pipe(HttpApiSchema.status(201)),
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.get("templates", "/:provider/mappings/templates", {
      params: providerParam,
      success: TemplatesResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
