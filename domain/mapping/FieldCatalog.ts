import { Schema } from "effect"

/**
 * The value types a catalog knows. `decimal` is an amount in major units
 * (QuickBooks `TotalAmt: 300.00`), `integer` covers minor units and counts,
 * `instant` is an ISO 8601 timestamp, `date` a calendar day, `unix` seconds
 * since the epoch, `enum` a string from `values`.
 */
export const FieldType = Schema.Literals([
  "string",
  "email",
  "phone",
  "currency",
  "enum",
  "integer",
  "decimal",
  "number",
  "boolean",
  "instant",
  "date",
  "unix",
  "object",
  "array"
])
export type FieldType = typeof FieldType.Type

/** Field types held as text. */
export const stringy: ReadonlyArray<FieldType> = ["string", "email", "phone", "currency", "enum"]
/** Field types that hold one value (not an object or list). */
export const scalar: ReadonlyArray<FieldType> = [
  ...stringy,
  "integer",
  "decimal",
  "number",
  "boolean",
  "instant",
  "date",
  "unix"
]

/** A custom field found at the provider: its stable id survives renames (Mailchimp merge_id, QuickBooks DefinitionId, Square key). */
export const CustomFieldOrigin = Schema.Struct({
  stableId: Schema.String,
  name: Schema.String
})

/** One mappable field of one side of a mapping. */
export const FieldSpec = Schema.Struct({
  /** Dotted path; `*` matches any key (Stripe `metadata.*`), `[]` every element of an array. */
  path: Schema.String,
  type: FieldType,
  required: Schema.optionalKey(Schema.Boolean),
  unique: Schema.optionalKey(Schema.Boolean),
  readOnly: Schema.optionalKey(Schema.Boolean),
  maxLength: Schema.optionalKey(Schema.Int),
  values: Schema.optionalKey(Schema.Array(Schema.String)),
  description: Schema.optionalKey(Schema.String),
  custom: Schema.optionalKey(CustomFieldOrigin)
}).annotate({ identifier: "FieldSpec" })
export type FieldSpec = typeof FieldSpec.Type

export type FieldCatalog = ReadonlyArray<FieldSpec>

/** `*` matches any key; `name[]` also matches one element, `name[0]` or `name[key=value]`. */
const segmentMatches = (pattern: string, segment: string) => {
  if (pattern === segment || pattern === "*") return true
  if (!pattern.endsWith("[]")) return false
  const name = pattern.slice(0, -2)
  return segment.startsWith(`${name}[`) && segment.endsWith("]")
}

/** Path segments with selectors folded: `CustomField[DefinitionId=1].StringValue` → ["CustomField[DefinitionId=1]", "StringValue"]. */
const segmentsOf = (path: string) => path.split(".")

/** The catalog entry a concrete path falls under, exact entries before wildcards. */
export const findField = (catalog: FieldCatalog, path: string): FieldSpec | undefined => {
  const exact = catalog.find((f) => f.path === path)
  if (exact !== undefined) return exact
  const segments = segmentsOf(path)
  return catalog.find((f) => {
    const pattern = segmentsOf(f.path)
    return pattern.length === segments.length && pattern.every((p, i) => segmentMatches(p, segments[i]!))
  })
}
