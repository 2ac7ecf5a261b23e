import { Schema, SchemaIssue } from "effect"
import { canonicalSchemas, type EntityType } from "../canonical/EntityType.ts"
import { Instant } from "../canonical/FieldTypes.ts"

/** At most this many records per call. */
export const maxBatch = 1000

/** One record as the platform sends it: its id, a version (a number, or `updatedAt`) and its canonical data. */
export const PlatformRecordInput = Schema.Struct({
  id: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)),
  version: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  updatedAt: Schema.optionalKey(Instant),
  data: Schema.Record(Schema.String, Schema.Unknown)
})
export type PlatformRecordInput = typeof PlatformRecordInput.Type

/** A record that passed validation: its version as a number and its data decoded by the entity's canonical Schema. */
export interface ValidRecord {
  readonly id: string
  readonly version: number
  readonly data: Record<string, unknown>
}

/** What is wrong with one record of a batch: its index and the field, as `records[3].data.email`. */
export interface RecordProblem {
  readonly index: number
  readonly field: string
  readonly message: string
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const fieldOf = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>) =>
  path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/**
 * Checks a batch against the entity's canonical Schema: every problem of every record, or the valid records. A batch
 * with any problem is refused whole (the platform fixes and resends it), so nothing is half-applied.
 */
export const validateBatch = (
  entityType: EntityType,
  records: ReadonlyArray<PlatformRecordInput>
): { readonly valid: ReadonlyArray<ValidRecord>; readonly problems: ReadonlyArray<RecordProblem> } => {
  const decode = Schema.decodeUnknownExit(canonicalSchemas[entityType] as Schema.Codec<Record<string, unknown>>)
  const problems: Array<RecordProblem> = []
  const valid: Array<ValidRecord> = []
  const seen = new Set<string>()
  records.forEach((record, index) => {
    const at = (field: string, message: string) =>
      problems.push({ index, field: `records[${index}].${field}`, message })
    if (seen.has(record.id)) at("id", `${record.id} appears twice in the batch`)
    seen.add(record.id)
    if ((record.version === undefined) === (record.updatedAt === undefined))
      at("version", "give exactly one of version and updatedAt")
    if (record.data.id !== undefined && record.data.id !== record.id) at("data.id", "must equal the record's id")
    const decoded = decode({ ...record.data, id: record.id })
    if (decoded._tag === "Failure") {
      const failure = decoded.cause.reasons.find((r) => r._tag === "Fail")
      const issue = failure?._tag === "Fail" ? (failure.error as Schema.SchemaError).issue : undefined
      if (issue === undefined) at("data", "does not match the canonical shape")
      else for (const i of formatIssues(issue).issues) at(`data.${fieldOf(i.path ?? [])}`, i.message)
      return
    }
    const version = record.version ?? Date.parse(record.updatedAt ?? "")
    valid.push({ id: record.id, version, data: decoded.value })
  })
  return problems.length > 0 ? { valid: [], problems } : { valid, problems }
}
