import { exponentOf } from "../canonical/Money.ts"
import { type FieldCatalog, type FieldSpec, findField } from "./FieldCatalog.ts"
import { getterOf, parsePath, type Segment, setterOf, splitAtEach } from "./Path.ts"
import { placeholdersOf, type Rule } from "./Rule.ts"
import { compileTransform, type Note, type Step, TransformFailure } from "./Transform.ts"

export type IssueKind = "truncated" | "coerced" | "defaulted" | "error"

/** What happened to one rule on one record. */
export interface RuleIssue {
  readonly rule: number
  readonly field: string
  readonly kind: IssueKind
  readonly message: string
}

export interface MappingOutcome {
  readonly output: Record<string, unknown>
  /** Truncated, coerced or defaulted values: the record was still written. */
  readonly warnings: ReadonlyArray<RuleIssue>
  /** Rules that could not write their field; the record should not be trusted. */
  readonly errors: ReadonlyArray<RuleIssue>
}

/** A rule set compiled once: a pure function from one record to its mapped form. */
export type CompiledMapping = (record: unknown) => MappingOutcome

const none: ReadonlyArray<RuleIssue> = Object.freeze([])

interface Collector {
  warnings: Array<RuleIssue> | undefined
  errors: Array<RuleIssue> | undefined
}

const instantPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/
const emailPattern = /^[^\s@]+@[^\s@]+$/
const phonePattern = /^\+[1-9]\d{7,14}$/

/** The per-value check of the target field's type, allowed values and max length (cheap coercions noted). */
const checkerOf = (field: FieldSpec | undefined): ((value: unknown, note: Note) => unknown) => {
  if (field === undefined) return (value) => value
  const max = field.maxLength
  const values = field.values === undefined ? undefined : new Set(field.values)
  const text = (value: unknown, note: Note): string | TransformFailure => {
    if (typeof value === "string") return value
    if (typeof value === "number" || typeof value === "boolean") {
      note("coerced", `${typeof value} written as text`)
      return String(value)
    }
    return new TransformFailure(`${field.path} needs text, got ${Array.isArray(value) ? "an array" : typeof value}`)
  }
  const numeric = (value: unknown, note: Note, integer: boolean): number | TransformFailure => {
    let n = value
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
      n = Number(value)
      note("coerced", "text written as a number")
    }
    if (typeof n !== "number" || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n)))
      return new TransformFailure(`${JSON.stringify(value)} is not ${integer ? "an integer" : "a number"}`)
    return n
  }
  const matching = (pattern: RegExp, what: string) => (value: unknown, note: Note) => {
    const s = text(value, note)
    if (s instanceof TransformFailure) return s
    return pattern.test(s) ? s : new TransformFailure(`${JSON.stringify(s)} is not ${what}`)
  }
  switch (field.type) {
    case "string":
      return (value, note) => {
        const s = text(value, note)
        if (s instanceof TransformFailure || max === undefined || s.length <= max) return s
        return new TransformFailure(`${s.length} characters, more than the ${max} ${field.path} holds (add truncate)`)
      }
    case "enum":
      return (value, note) => {
        const s = text(value, note)
        if (s instanceof TransformFailure || values === undefined || values.has(s)) return s
        return new TransformFailure(`${JSON.stringify(s)} is not one of ${field.values!.join(", ")}`)
      }
    case "email":
      return matching(emailPattern, "an email address")
    case "phone":
      return matching(phonePattern, "an E.164 phone number (add phoneE164)")
    case "instant":
      return matching(instantPattern, "an ISO 8601 instant in UTC (add a date transform)")
    case "date":
      return matching(/^\d{4}-\d{2}-\d{2}$/, "a date YYYY-MM-DD")
    case "currency":
      return (value, note) => {
        const s = text(value, note)
        if (s instanceof TransformFailure) return s
        return exponentOf(s) === undefined ? new TransformFailure(`${JSON.stringify(s)} is not an ISO 4217 code`) : s
      }
    case "integer":
    case "unix":
      return (value, note) => numeric(value, note, true)
    case "number":
    case "decimal":
      return (value, note) => numeric(value, note, false)
    case "boolean":
      return (value) =>
        typeof value === "boolean" ? value : new TransformFailure(`${JSON.stringify(value)} is not true or false`)
    case "object":
      return (value) =>
        typeof value === "object" && !Array.isArray(value) ? value : new TransformFailure("not an object")
    case "array":
      return (value) => (Array.isArray(value) ? value : new TransformFailure("not an array"))
  }
}

type Reader = (record: unknown) => unknown

const templateReader = (template: string): Reader => {
  const pieces = template.split(/\{[^{}]+\}/)
  const getters = placeholdersOf(template).map((p) => getterOf(parsePath(p) as ReadonlyArray<Segment>))
  return (record) => {
    let out = pieces[0]!
    let present = false
    for (let i = 0; i < getters.length; i++) {
      const value = getters[i]!(record)
      if (value !== undefined && value !== null && value !== "") {
        present = true
        out += typeof value === "string" ? value : String(value)
      }
      out += pieces[i + 1]!
    }
    return present ? out.trim().replace(/\s{2,}/g, " ") : undefined
  }
}

/**
 * Compiles rules once (per mapping version) to a pure function. Each enabled
 * rule reads its source or template, runs its transforms, falls back to its
 * default, checks the value against the target field and writes it. A rule
 * that fails writes nothing and reports an error; the other rules still run.
 * Rules are assumed validated (validateRules); a malformed rule is skipped.
 */
export const compileRules = (rules: ReadonlyArray<Rule>, targets: FieldCatalog): CompiledMapping => {
  const compiled: Array<(record: unknown, out: Record<string, unknown>, issues: Collector) => void> = []
  rules.forEach((rule, index) => {
    if (rule.disabled !== undefined) return
    const target = parsePath(rule.target)
    if (typeof target === "string") return
    const readPath = (path: string): Reader => {
      const segments = parsePath(path)
      return typeof segments === "string" ? () => undefined : getterOf(segments)
    }
    const field = findField(targets, rule.target)
    const steps: ReadonlyArray<Step> = (rule.transforms ?? []).map((t) =>
      compileTransform(t, readPath, field?.maxLength)
    )
    const check = checkerOf(field)
    const fallback = rule.default
    const required = rule.required === true

    // Rules run synchronously, so one collector slot per rule replaces a closure per record.
    let issues: Collector = { warnings: undefined, errors: undefined }
    const note: Note = (kind, message) => {
      if (issues.warnings === undefined) issues.warnings = []
      issues.warnings.push({ rule: index, field: rule.target, kind, message })
    }
    const fail = (message: string) => {
      if (issues.errors === undefined) issues.errors = []
      issues.errors.push({ rule: index, field: rule.target, kind: "error", message })
      return undefined
    }

    /** The value for one record (or element), with its issues noted. */
    const produce = (raw: unknown, record: unknown, collector: Collector): unknown => {
      issues = collector
      let value = raw
      for (let i = 0; i < steps.length; i++) {
        value = steps[i]!(value, record, note)
        if (value instanceof TransformFailure) return fail(value.message)
      }
      if ((value === undefined || value === null) && fallback !== undefined) {
        value = fallback
        if (fallback !== null) note("defaulted", `no value, wrote the default ${JSON.stringify(fallback)}`)
      }
      if (value === undefined || value === null) {
        if (required) return fail(`${rule.target} is required and has no value`)
        return value
      }
      const checked = check(value, note)
      return checked instanceof TransformFailure ? fail(checked.message) : checked
    }

    const sourceSegments = rule.source === undefined ? undefined : parsePath(rule.source)
    if (typeof sourceSegments === "string") return
    const targetEach = splitAtEach(target)
    const sourceEach = sourceSegments === undefined ? undefined : splitAtEach(sourceSegments)

    if (targetEach !== undefined && sourceEach !== undefined) {
      const readArray = getterOf(sourceEach.array)
      const readElement = getterOf(sourceEach.element)
      const arrayAt = getterOf(targetEach.array)
      const setArray = setterOf(targetEach.array)
      const setElement = setterOf(targetEach.element)
      compiled.push((record, out, issues) => {
        const elements = readArray(record)
        if (!Array.isArray(elements)) return
        let written = arrayAt(out) as Array<Record<string, unknown>> | undefined
        if (!Array.isArray(written)) {
          written = []
          setArray(out, written)
        }
        for (let i = 0; i < elements.length; i++) {
          const value = produce(readElement(elements[i]), record, issues)
          if (value === undefined) continue
          if (written[i] === undefined) written[i] = {}
          setElement(written[i]!, value)
        }
      })
      return
    }
    if (targetEach !== undefined) return
    const read: Reader =
      sourceSegments !== undefined
        ? getterOf(sourceSegments)
        : rule.template !== undefined
          ? templateReader(rule.template)
          : () => undefined
    const write = setterOf(target)
    compiled.push((record, out, issues) => {
      const value = produce(read(record), record, issues)
      if (value !== undefined) write(out, value)
    })
  })

  return (record) => {
    const output: Record<string, unknown> = {}
    const issues: Collector = { warnings: undefined, errors: undefined }
    for (let i = 0; i < compiled.length; i++) compiled[i]!(record, output, issues)
    return { output, warnings: issues.warnings ?? none, errors: issues.errors ?? none }
  }
}
