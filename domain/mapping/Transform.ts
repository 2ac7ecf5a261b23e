import { Schema } from "effect"
import { exponentOf, toDecimal, toMinor } from "../canonical/Money.ts"
import { type FieldType, scalar, stringy } from "./FieldCatalog.ts"
import { instantOfWallClock, isTimeZone, wallClockOf } from "./ZonedTime.ts"

/**
 * The closed set of transforms. Data only: there is no way to evaluate code.
 * Each runs on the value the rule read; null and missing values pass through
 * untouched (a rule's `default` fills them afterwards).
 */
const op = <const Op extends string, const Fields extends Schema.Struct.Fields>(name: Op, fields: Fields) =>
  Schema.Struct({ op: Schema.Literal(name), ...fields })

const Text = Schema.String.check(Schema.isMaxLength(200))
export const DateFormat = Schema.Literals(["iso", "date", "local", "unix", "unixMillis"])
export type DateFormat = typeof DateFormat.Type
export const maxLookupEntries = 500

export const Transform = Schema.Union([
  op("trim", {}),
  op("lower", {}),
  op("upper", {}),
  /** Splits text at `separator`; with `index`, keeps that part (negative counts from the end). */
  op("split", { separator: Text, index: Schema.optionalKey(Schema.Int) }),
  /** Joins an array of values with `separator`. */
  op("join", { separator: Text }),
  /** Adds literal text before and/or after. */
  op("concat", { prefix: Schema.optionalKey(Text), suffix: Schema.optionalKey(Text) }),
  /**
   * Converts between `iso` (ISO 8601 with offset; written in UTC), `date`
   * (YYYY-MM-DD), `local` (YYYY-MM-DD HH:mm:ss), `unix` seconds and
   * `unixMillis`; `date` and `local` are read and written in `timeZone` (IANA, default UTC).
   */
  op("date", { from: DateFormat, to: DateFormat, timeZone: Schema.optionalKey(Text) }),
  /**
   * Minor units ↔ decimal amount by the currency's ISO 4217 exponent. The
   * currency is `currency`, or read from the record at `currencyFrom`.
   * `to: "decimal"` writes a string unless `asNumber`.
   */
  op("money", {
    to: Schema.Literals(["minor", "decimal"]),
    currency: Schema.optionalKey(Text),
    currencyFrom: Schema.optionalKey(Text),
    asNumber: Schema.optionalKey(Schema.Boolean)
  }),
  /** Replaces a value by the table's entry for it; unknown values take `default`, or fail without one. */
  op("lookup", {
    table: Schema.Record(Schema.String, Schema.String).check(
      Schema.makeFilter(
        (table: Record<string, string>) =>
          Object.keys(table).length <= maxLookupEntries || `at most ${maxLookupEntries} entries`
      )
    ),
    default: Schema.optionalKey(Schema.String)
  }),
  /** Cuts text to `max` characters, by default the target field's max length. */
  op("truncate", { max: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))) }),
  /** When the value is missing, null or empty, takes the first present value of `paths` (read from the same record). */
  op("coalesce", { paths: Schema.Array(Text).check(Schema.isMinLength(1), Schema.isMaxLength(8)) }),
  /** Normalises a phone number to E.164; national numbers take `defaultCountry`'s calling code. */
  op("phoneE164", { defaultCountry: Schema.optionalKey(Text) }),
  op("number", {}),
  /** true/yes/y/1/on → true, false/no/n/0/off/"" → false. */
  op("boolean", {}),
  op("string", {})
]).annotate({ identifier: "Transform" })
export type Transform = typeof Transform.Type

/** What a transform does to one value: the new value, or a failure message. */
export class TransformFailure {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

export type Note = (kind: "truncated" | "coerced" | "defaulted", message: string) => void
export type Step = (value: unknown, record: unknown, note: Note) => unknown

const numeric: ReadonlyArray<FieldType> = ["integer", "decimal", "number", "unix"]

const dateInput: Record<DateFormat, ReadonlyArray<FieldType>> = {
  iso: ["instant", "date", "string"],
  date: ["date", "string"],
  local: ["string"],
  unix: ["unix", "integer", "number", "string"],
  unixMillis: ["integer", "number", "string"]
}
const dateOutput: Record<DateFormat, FieldType> = {
  iso: "instant",
  date: "date",
  local: "string",
  unix: "unix",
  unixMillis: "integer"
}

/** Calling codes for national numbers (`defaultCountry`). */
export const callingCodes: Readonly<Record<string, string>> = {
  US: "1",
  CA: "1",
  GB: "44",
  IE: "353",
  AU: "61",
  NZ: "64",
  DE: "49",
  FR: "33",
  ES: "34",
  IT: "39",
  NL: "31",
  BE: "32",
  CH: "41",
  AT: "43",
  SE: "46",
  NO: "47",
  DK: "45",
  FI: "358",
  PT: "351",
  PL: "48",
  JP: "81",
  KW: "965",
  MX: "52",
  BR: "55",
  IN: "91",
  SG: "65",
  ZA: "27"
}

/**
 * The type a transform produces from `input`, or why it cannot take it.
 * `paths` checks the record paths a transform reads (coalesce, money).
 */
export const outputType = (
  t: Transform,
  input: FieldType,
  known: (path: string) => FieldType | undefined
): FieldType | string => {
  const needs = (types: ReadonlyArray<FieldType>, then: FieldType) =>
    types.includes(input) ? then : `${t.op} cannot take ${input}`
  switch (t.op) {
    case "trim":
      return needs(stringy, input)
    case "lower":
    case "upper":
    case "concat":
    case "truncate":
      return needs(stringy, "string")
    case "split":
      return needs(stringy, t.index === undefined ? "array" : "string")
    case "join":
      return needs(["array"], "string")
    case "date":
      if (t.timeZone !== undefined && !isTimeZone(t.timeZone)) return `unknown time zone ${t.timeZone}`
      return needs(dateInput[t.from], dateOutput[t.to])
    case "money": {
      if ((t.currency === undefined) === (t.currencyFrom === undefined))
        return "money needs exactly one of currency and currencyFrom"
      if (t.currency !== undefined && exponentOf(t.currency) === undefined)
        return `${t.currency} is not an ISO 4217 currency code`
      if (t.currencyFrom !== undefined && known(t.currencyFrom) === undefined)
        return `currencyFrom ${t.currencyFrom} is not a field`
      return t.to === "minor" ? needs([...numeric, "string"], "integer") : needs(numeric, "decimal")
    }
    case "lookup":
      return needs(scalar, "string")
    case "coalesce": {
      const missing = t.paths.find((p) => known(p) === undefined)
      return missing === undefined ? input : `coalesce path ${missing} is not a field`
    }
    case "phoneE164":
      if (t.defaultCountry !== undefined && callingCodes[t.defaultCountry] === undefined)
        return `no calling code known for ${t.defaultCountry}`
      return needs(stringy, "phone")
    case "number":
      return needs([...numeric, "string"], "number")
    case "boolean":
      return needs(["string", "boolean", "integer", "number"], "boolean")
    case "string":
      return needs(scalar, "string")
  }
}

const isoInstant = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const localTime = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n))

/**
 * An instant written the canonical way: UTC, seconds, milliseconds only when
 * there are some. Civil date from day count by arithmetic (no Date object):
 * this runs once per date field per record.
 */
export const formatInstant = (ms: number): string => {
  const seconds = Math.floor(ms / 1000)
  const milli = ms - seconds * 1000
  const days = Math.floor(seconds / 86_400)
  let rest = seconds - days * 86_400
  const hour = Math.floor(rest / 3600)
  rest -= hour * 3600
  const minute = Math.floor(rest / 60)
  const second = rest - minute * 60
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  if (year < 0 || year > 9999) return new Date(ms).toISOString()
  const date = `${String(year).padStart(4, "0")}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}`
  return milli === 0 ? `${date}Z` : `${date}.${pad3(Math.round(milli))}Z`
}

/** Date.UTC by arithmetic (days from the civil date), for the hot path of date transforms. */
const utcMillis = (y: number, m: number, d: number, h: number, mi: number, sec: number, ms: number): number => {
  const year = m <= 2 ? y - 1 : y
  const era = Math.floor(year / 400)
  const yoe = year - era * 400
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  const days = era * 146_097 + doe - 719_468
  return (((days * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms
}

const readDate = (value: unknown, format: DateFormat, zone: string): number | TransformFailure => {
  const fail = () => new TransformFailure(`${JSON.stringify(value)} is not a ${format} date`)
  if (format === "unix" || format === "unixMillis") {
    const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN
    if (!Number.isFinite(n)) return fail()
    return format === "unix" ? n * 1000 : n
  }
  if (typeof value !== "string") return fail()
  if (format === "iso") {
    const m = isoInstant.exec(value)
    if (m === null) return fail()
    const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", offset] = m
    const millis = frac === "" ? 0 : Math.round(Number(frac.slice(1, 4).padEnd(3, "0")))
    const wall = utcMillis(+y!, +mo!, +d!, +h, +mi, +s, millis)
    if (offset === undefined) return instantOfWallClock(zone, wall)
    if (offset === "Z") return wall
    const sign = offset.startsWith("-") ? -1 : 1
    const digits = offset.slice(1).replace(":", "")
    return wall - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000
  }
  const m = format === "date" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : localTime.exec(value)
  if (m === null) return fail()
  const [, y, mo, d, h = "0", mi = "0", s = "0"] = m
  return instantOfWallClock(zone, utcMillis(+y!, +mo!, +d!, +h, +mi, +s, 0))
}

const writeDate = (ms: number, format: DateFormat, zone: string): unknown => {
  switch (format) {
    case "iso":
      return formatInstant(ms)
    case "unix":
      return Math.floor(ms / 1000)
    case "unixMillis":
      return ms
    case "date":
    case "local": {
      const wall = wallClockOf(zone, ms)
      const day = `${wall.getUTCFullYear()}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`
      return format === "date"
        ? day
        : `${day} ${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}`
    }
  }
}

const isMissing = (value: unknown) => value === undefined || value === null

const textOf = (value: unknown, op: string): string | TransformFailure =>
  typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : new TransformFailure(`${op} needs text, got ${Array.isArray(value) ? "an array" : typeof value}`)

const e164Pattern = /^\+[1-9]\d{7,14}$/
const truthy = new Set(["true", "yes", "y", "1", "on"])
const falsy = new Set(["false", "no", "n", "0", "off", ""])

/**
 * Compiles one transform once to a step. `read` compiles the extra record
 * paths a transform reads; `maxLength` is the target's, for `truncate`.
 */
export const compileTransform = (
  t: Transform,
  read: (path: string) => (record: unknown) => unknown,
  maxLength: number | undefined
): Step => {
  const onText =
    (f: (text: string, note: Note) => unknown): Step =>
    (value, _record, note) => {
      if (isMissing(value)) return value
      const text = textOf(value, t.op)
      return text instanceof TransformFailure ? text : f(text, note)
    }
  switch (t.op) {
    case "trim":
      return onText((s) => s.trim())
    case "lower":
      return onText((s) => s.toLowerCase())
    case "upper":
      return onText((s) => s.toUpperCase())
    case "concat":
      return onText((s) => `${t.prefix ?? ""}${s}${t.suffix ?? ""}`)
    case "split":
      return onText((s) => {
        const parts = s.split(t.separator)
        if (t.index === undefined) return parts
        return parts.at(t.index) ?? null
      })
    case "join":
      return (value) => {
        if (isMissing(value)) return value
        if (!Array.isArray(value)) return new TransformFailure("join needs an array")
        return value.filter((v) => !isMissing(v)).join(t.separator)
      }
    case "truncate": {
      const max = t.max ?? maxLength ?? Number.POSITIVE_INFINITY
      return onText((s, note) => {
        // UTF-16 length bounds the character count, so short text skips counting characters.
        if (s.length <= max || [...s].length <= max) return s
        note("truncated", `cut from ${[...s].length} to ${max} characters`)
        return [...s].slice(0, max).join("")
      })
    }
    case "date": {
      const zone = t.timeZone ?? "UTC"
      return (value) => {
        if (isMissing(value) || value === "") return isMissing(value) ? value : null
        const ms = readDate(value, t.from, zone)
        return ms instanceof TransformFailure ? ms : writeDate(ms, t.to, zone)
      }
    }
    case "money": {
      const currencyOf: (record: unknown) => unknown =
        t.currencyFrom !== undefined ? read(t.currencyFrom) : () => t.currency
      return (value, record) => {
        if (isMissing(value) || value === "") return isMissing(value) ? value : null
        const currency = currencyOf(record)
        if (typeof currency !== "string") return new TransformFailure("money has no currency for this record")
        if (t.to === "minor") {
          if (typeof value !== "string" && typeof value !== "number")
            return new TransformFailure("money needs a number")
          const minor = toMinor(value, currency)
          return typeof minor === "string" ? new TransformFailure(minor) : minor
        }
        const minor = typeof value === "string" ? Number(value) : value
        if (typeof minor !== "number" || !Number.isSafeInteger(minor))
          return new TransformFailure(`${JSON.stringify(value)} is not an amount in minor units`)
        const decimal = toDecimal(minor, currency)
        if (decimal === undefined) return new TransformFailure(`${currency} is not an ISO 4217 currency code`)
        return t.asNumber ? Number(decimal) : decimal
      }
    }
    case "lookup": {
      const table = new Map(Object.entries(t.table))
      return (value) => {
        if (isMissing(value)) return value
        const found = table.get(String(value))
        if (found !== undefined) return found
        if (t.default !== undefined) return t.default
        return new TransformFailure(`${JSON.stringify(value)} is not in the lookup table`)
      }
    }
    case "coalesce": {
      const readers = t.paths.map(read)
      return (value, record) => {
        if (!isMissing(value) && value !== "") return value
        for (const reader of readers) {
          const candidate = reader(record)
          if (!isMissing(candidate) && candidate !== "") return candidate
        }
        return value
      }
    }
    case "phoneE164": {
      const code = t.defaultCountry === undefined ? undefined : callingCodes[t.defaultCountry]
      return onText((s, note) => {
        const trimmed = s.trim()
        if (trimmed === "") return null
        if (e164Pattern.test(trimmed)) return trimmed
        const digits = trimmed.replace(/[\s().-]/g, "")
        let e164: string | undefined
        if (/^\+\d+$/.test(digits)) e164 = digits
        else if (/^00\d+$/.test(digits)) e164 = `+${digits.slice(2)}`
        else if (/^\d+$/.test(digits) && code !== undefined) {
          const national = digits.replace(/^0/, "")
          e164 =
            national.startsWith(code) && code === "1" && national.length === 11 ? `+${national}` : `+${code}${national}`
        }
        if (e164 === undefined || !e164Pattern.test(e164))
          return new TransformFailure(`${JSON.stringify(s)} is not a phone number E.164 can express`)
        if (e164 !== trimmed) note("coerced", `phone written as ${e164}`)
        return e164
      })
    }
    case "number":
      return (value) => {
        if (isMissing(value) || typeof value === "number") return value
        const n = typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN
        return Number.isFinite(n) ? n : new TransformFailure(`${JSON.stringify(value)} is not a number`)
      }
    case "boolean":
      return (value) => {
        if (isMissing(value) || typeof value === "boolean") return value
        if (typeof value === "number") return value !== 0
        const text = String(value).trim().toLowerCase()
        if (truthy.has(text)) return true
        if (falsy.has(text)) return false
        return new TransformFailure(`${JSON.stringify(value)} is not a yes or no`)
      }
    case "string":
      return (value) => (isMissing(value) || typeof value === "string" ? value : JSON.stringify(value))
  }
}

/**
 * The transform that undoes `t`, where one exists: money minor ↔ decimal in a
 * fixed currency, a one-to-one lookup without default, date format changes
 * that keep the instant, number ↔ string.
 */
export const inverseOf = (t: Transform): Transform | undefined => {
  switch (t.op) {
    case "money":
      if (t.currency === undefined) return undefined
      return t.to === "minor"
        ? { op: "money", to: "decimal", currency: t.currency }
        : { op: "money", to: "minor", currency: t.currency }
    case "lookup": {
      if (t.default !== undefined) return undefined
      const entries = Object.entries(t.table)
      const inverted = Object.fromEntries(entries.map(([k, v]) => [v, k]))
      return Object.keys(inverted).length === entries.length ? { op: "lookup", table: inverted } : undefined
    }
    case "date":
      return t.from === "local" || t.to === "local" || t.from === "date" || t.to === "date"
        ? undefined
        : { op: "date", from: t.to, to: t.from, ...(t.timeZone === undefined ? {} : { timeZone: t.timeZone }) }
    case "number":
      return { op: "string" }
    default:
      return undefined
  }
}
