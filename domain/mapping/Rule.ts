import { Schema } from "effect"
import { Transform } from "./Transform.ts"

/** `inbound`: provider object → canonical record; `outbound`: canonical record → provider object. */
export const Direction = Schema.Literals(["inbound", "outbound"])
export type Direction = typeof Direction.Type

export const maxRules = 200
export const maxTransformsPerRule = 16
export const maxTemplateLength = 1000

const Path = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null])

/**
 * One rule: write `target` from `source` (a path) or `template` (text with
 * `{path}` placeholders) through `transforms`; `default` fills a missing value;
 * `required` makes a missing value an error. `sourceId`/`targetId` remember
 * the stable id of a provider custom field so heal can follow a rename;
 * `disabled` is set by heal when a field is gone for good.
 */
export const Rule = Schema.Struct({
  target: Path,
  source: Schema.optionalKey(Path),
  template: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(maxTemplateLength))),
  transforms: Schema.optionalKey(Schema.Array(Transform).check(Schema.isMaxLength(maxTransformsPerRule))),
  default: Schema.optionalKey(Scalar),
  required: Schema.optionalKey(Schema.Boolean),
  sourceId: Schema.optionalKey(Schema.String),
  targetId: Schema.optionalKey(Schema.String),
  disabled: Schema.optionalKey(Schema.Struct({ reason: Schema.String }))
}).annotate({ identifier: "MappingRule" })
export type Rule = typeof Rule.Type

export const Rules = Schema.Array(Rule)

/** One thing wrong with a set of rules: which rule (null: the rule set as a whole) and which field. */
export const MappingProblem = Schema.Struct({
  rule: Schema.NullOr(Schema.Int),
  field: Schema.String,
  message: Schema.String
}).annotate({ identifier: "MappingProblem" })
export type MappingProblem = typeof MappingProblem.Type

/** `{path}` placeholders of a template, in order. */
export const placeholdersOf = (template: string): ReadonlyArray<string> =>
  [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!.trim())
