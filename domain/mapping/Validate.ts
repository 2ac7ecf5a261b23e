import { type FieldCatalog, type FieldSpec, type FieldType, findField, scalar, stringy } from "./FieldCatalog.ts"
import { parsePath, type Segment } from "./Path.ts"
import { type MappingProblem, maxRules, placeholdersOf, type Rule } from "./Rule.ts"
import { outputType } from "./Transform.ts"

/** Whether a value of type `from` can be written to a field of type `to` (checked again per value when applied). */
export const assignable = (from: FieldType, to: FieldType): boolean => {
  if (from === to) return true
  switch (to) {
    case "string":
      return scalar.includes(from)
    case "email":
    case "phone":
    case "currency":
    case "enum":
      return stringy.includes(from)
    case "number":
    case "decimal":
      return from === "integer" || from === "decimal" || from === "number" || from === "unix"
    case "integer":
    case "unix":
      return from === "integer" || from === "unix"
    default:
      return false
  }
}

const hasEach = (segments: ReadonlyArray<Segment>) => segments.some((s) => s.each)

/**
 * Every problem of a rule set against the catalogs of its two sides: unknown
 * fields, types that cannot convert, read-only or duplicate targets, required
 * targets left unmapped, malformed paths and transforms. Disabled rules are
 * skipped. An empty list means the rules compile and apply.
 */
export const validateRules = (
  rules: ReadonlyArray<Rule>,
  sources: FieldCatalog,
  targets: FieldCatalog
): ReadonlyArray<MappingProblem> => {
  const problems: Array<MappingProblem> = []
  const problem = (rule: number | null, field: string, message: string): void => {
    problems.push({ rule, field, message })
  }
  if (rules.length > maxRules) {
    problem(null, "rules", `at most ${maxRules} rules, got ${rules.length}`)
    return problems
  }
  const known = (path: string): FieldType | undefined => {
    if (typeof parsePath(path) === "string") return undefined
    return findField(sources, path)?.type
  }
  const mappedTargets = new Map<string, number>()

  const checkRule = (rule: Rule, index: number): void => {
    if (rule.disabled !== undefined) return
    const target = parsePath(rule.target)
    if (typeof target === "string") return void problem(index, rule.target, `target is not a path: ${target}`)
    const targetField: FieldSpec | undefined = findField(targets, rule.target)
    if (targetField === undefined) problem(index, rule.target, `unknown target field ${rule.target}`)
    else if (targetField.readOnly) problem(index, rule.target, `${rule.target} is read-only`)
    const earlier = mappedTargets.get(rule.target)
    if (earlier !== undefined) problem(index, rule.target, `${rule.target} is already written by rule ${earlier}`)
    else mappedTargets.set(rule.target, index)

    const inputs = (rule.source === undefined ? 0 : 1) + (rule.template === undefined ? 0 : 1)
    if (inputs === 2) return void problem(index, rule.target, "a rule takes a source or a template, not both")
    if (inputs === 0 && rule.default === undefined)
      return void problem(index, rule.target, "a rule needs a source, a template or a default")

    let type: FieldType | undefined
    if (rule.source !== undefined) {
      const source = parsePath(rule.source)
      if (typeof source === "string") return void problem(index, rule.source, `source is not a path: ${source}`)
      if (hasEach(source) !== hasEach(target))
        return void problem(index, rule.target, "[] must appear in both the source and the target, or in neither")
      type = findField(sources, rule.source)?.type
      if (type === undefined) return void problem(index, rule.source, `unknown source field ${rule.source}`)
    } else if (rule.template !== undefined) {
      if (hasEach(target)) return void problem(index, rule.target, "a template cannot write array elements")
      for (const placeholder of placeholdersOf(rule.template)) {
        if (known(placeholder) === undefined || placeholder.includes("[]"))
          problem(index, placeholder, `unknown template field ${placeholder}`)
      }
      type = "string"
    } else {
      type = typeof rule.default === "number" ? "number" : typeof rule.default === "boolean" ? "boolean" : "string"
      if (rule.default === null) return
    }

    for (const transform of rule.transforms ?? []) {
      const next = outputType(transform, type, known)
      if (!isFieldType(next)) {
        problem(index, rule.source ?? rule.target, `transform ${transform.op}: ${next}`)
        return
      }
      type = next
      if (transform.op === "lookup" && targetField?.values !== undefined) {
        const allowed = new Set(targetField.values)
        const outside = [
          ...Object.values(transform.table),
          ...(transform.default === undefined ? [] : [transform.default])
        ].filter((v) => !allowed.has(v))
        if (outside.length > 0)
          problem(index, rule.target, `lookup writes ${outside.join(", ")}, not among ${targetField.values.join(", ")}`)
      }
    }
    if (targetField !== undefined && !assignable(type, targetField.type))
      problem(index, rule.target, `cannot convert ${type} to ${targetField.type} (${rule.target})`)
    if (
      rule.default !== undefined &&
      rule.default !== null &&
      targetField?.values !== undefined &&
      !targetField.values.includes(String(rule.default))
    )
      problem(
        index,
        rule.target,
        `default ${JSON.stringify(rule.default)} is not among ${targetField.values.join(", ")}`
      )
  }
  rules.forEach(checkRule)

  const written = [...mappedTargets.keys()]
  const isWritten = (path: string) =>
    written.some((t) => t === path || t.startsWith(`${path}.`) || t.startsWith(`${path}[`))
  for (const field of targets) {
    if (
      field.required &&
      !field.readOnly &&
      !field.path.includes("*") &&
      !field.path.includes("[]") &&
      !isWritten(field.path)
    )
      problem(null, field.path, `required target ${field.path} is not mapped`)
  }
  return problems
}

const fieldTypes: ReadonlySet<string> = new Set<FieldType>([...scalar, "object", "array"])
const isFieldType = (value: string): value is FieldType => fieldTypes.has(value)
