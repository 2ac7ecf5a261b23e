import { Schema } from "effect"
import { type FieldCatalog, type FieldSpec, findField } from "./FieldCatalog.ts"
import type { Direction, Rule } from "./Rule.ts"

/** Below this name similarity (0–1) a missing field is not guessed, the rule is disabled instead. */
export const nameSimilarityThreshold = 0.8

export const HealChange = Schema.Struct({
  rule: Schema.Int,
  field: Schema.String,
  action: Schema.Literals(["repaired", "disabled"]),
  to: Schema.optionalKey(Schema.String),
  by: Schema.optionalKey(Schema.Literals(["stableId", "name"])),
  similarity: Schema.optionalKey(Schema.Number),
  reason: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "HealChange" })
export type HealChange = typeof HealChange.Type

/** The side of a rule that names a provider field: the source inbound, the target outbound. */
const providerPath = (rule: Rule, direction: Direction) => (direction === "inbound" ? rule.source : rule.target)
const providerId = (rule: Rule, direction: Direction) => (direction === "inbound" ? rule.sourceId : rule.targetId)

const withProviderField = (rule: Rule, direction: Direction, field: FieldSpec): Rule => {
  const stableId = field.custom?.stableId
  return direction === "inbound"
    ? { ...rule, source: field.path, ...(stableId === undefined ? {} : { sourceId: stableId }) }
    : { ...rule, target: field.path, ...(stableId === undefined ? {} : { targetId: stableId }) }
}

/** Records the stable id of every custom provider field the rules name, so a later rename can be followed. */
export const attachStableIds = (rules: ReadonlyArray<Rule>, direction: Direction, provider: FieldCatalog) =>
  rules.map((rule) => {
    const path = providerPath(rule, direction)
    const field = path === undefined ? undefined : findField(provider, path)
    return field?.custom === undefined ? rule : withProviderField(rule, direction, field)
  })

/** Enabled rules whose provider field no longer exists (or whose custom field now sits under another id). */
export const brokenRules = (
  rules: ReadonlyArray<Rule>,
  direction: Direction,
  provider: FieldCatalog
): ReadonlyArray<{ readonly rule: number; readonly field: string }> =>
  rules.flatMap((rule, index) => {
    const path = providerPath(rule, direction)
    if (rule.disabled !== undefined || path === undefined) return []
    const field = findField(provider, path)
    const id = providerId(rule, direction)
    const moved = id !== undefined && field?.custom !== undefined && field.custom.stableId !== id
    return field === undefined || moved ? [{ rule: index, field: path }] : []
  })

const normalise = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "")

const levenshtein = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = current
  }
  return previous[b.length]!
}

/** 1 for equal names, 0 for nothing in common (edit distance over the longer length, ignoring case and punctuation). */
export const similarity = (a: string, b: string): number => {
  const [x, y] = [normalise(a), normalise(b)]
  const longest = Math.max(x.length, y.length)
  return longest === 0 ? 1 : 1 - levenshtein(x, y) / longest
}

/** Segments that only reach a custom field's value: `custom_attributes.<key>.value`, `CustomField[…].StringValue`. */
const valueAccessors = new Set(["value", "StringValue"])

/**
 * The part of a path that names its field, for comparing names: the value of its last `[key=value]` selector
 * (QuickBooks `CustomField[DefinitionId=1].StringValue` → `1`), else its last segment that is not a value accessor
 * (`custom_attributes.seat.value` → `seat`, `merge_fields.FNAME` → `FNAME`).
 */
const nameOf = (path: string): string => {
  const selectors = [...path.matchAll(/\[[^=\]]+=([^\]]*)\]/g)]
  if (selectors.length > 0) return selectors.at(-1)![1]!
  const named = path.split(".").filter((segment) => !valueAccessors.has(segment))
  return named.at(-1) ?? path
}

/**
 * Repairs rules that point at provider fields which no longer exist: first by
 * the stable id recorded on the rule, then by the most similar custom field
 * name above the threshold; what cannot be repaired is disabled with a reason.
 * Pure: returns the new rules and the diff.
 */
export const healRules = (
  rules: ReadonlyArray<Rule>,
  direction: Direction,
  provider: FieldCatalog
): { readonly rules: ReadonlyArray<Rule>; readonly changes: ReadonlyArray<HealChange> } => {
  const broken = new Set(brokenRules(rules, direction, provider).map((b) => b.rule))
  const custom = provider.filter((f) => f.custom !== undefined)
  const changes: Array<HealChange> = []
  const healed = rules.map((rule, index): Rule => {
    if (!broken.has(index)) return rule
    const path = providerPath(rule, direction)!
    const id = providerId(rule, direction)
    const byId = id === undefined ? undefined : custom.find((f) => f.custom!.stableId === id)
    if (byId !== undefined) {
      changes.push({ rule: index, field: path, action: "repaired", to: byId.path, by: "stableId" })
      return withProviderField(rule, direction, byId)
    }
    const scored = custom
      .map((f) => ({
        field: f,
        score: Math.max(similarity(nameOf(path), nameOf(f.path)), similarity(nameOf(path), f.custom!.name))
      }))
      .sort((a, b) => b.score - a.score)[0]
    if (scored !== undefined && scored.score >= nameSimilarityThreshold) {
      const score = Math.round(scored.score * 100) / 100
      changes.push({
        rule: index,
        field: path,
        action: "repaired",
        to: scored.field.path,
        by: "name",
        similarity: score
      })
      return withProviderField(rule, direction, scored.field)
    }
    const reason = `${path} no longer exists at the provider${id === undefined ? "" : ` (field id ${id} is gone)`}`
    changes.push({ rule: index, field: path, action: "disabled", reason })
    return { ...rule, disabled: { reason } }
  })
  return { rules: healed, changes }
}
