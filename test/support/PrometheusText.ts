/**
 * A strict reader of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests: no parser is
 * installed, so this one checks what a scraper relies on and throws, naming the line, at the first violation.
 * `# HELP` / `# TYPE` at most once per family and before its samples; a family's lines together; metric and label
 * names, label value escapes, float values (`NaN`, `+Inf`, `-Inf`) and optional integer timestamps; no series twice;
 * counters non-negative; a histogram's series each with `_bucket{le}` non-decreasing in `le` and ending at `+Inf`
 * equal to `_count`, and a `_sum`.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: MetricType
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*/
const types: ReadonlySet<string> = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

class ParseError extends Error {
  constructor(line: number, text: string, problem: string) {
    super(`line ${line}: ${problem}: ${JSON.stringify(text)}`)
  }
}

const parseValue = (text: string): number | undefined => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined
}

const unescapeHelp = (text: string) => text.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"))

/** `name{a="x",b="y"} 1 [ts]` → the sample; throws on anything else. */
const parseSample = (text: string, fail: (problem: string) => never): Sample => {
  const name = metricName.exec(text)?.[0]
  if (name === undefined) return fail("no metric name")
  let at = name.length
  const labels: Record<string, string> = {}
  if (text[at] === "{") {
    at++
    while (text[at] !== "}") {
      const label = labelName.exec(text.slice(at))?.[0]
      if (label === undefined) return fail("bad label name")
      if (label in labels) return fail(`label ${label} twice`)
      at += label.length
      if (text.slice(at, at + 2) !== '="') return fail(`label ${label} without ="`)
      at += 2
      let value = ""
      for (;;) {
        const c = text[at]
        if (c === undefined) return fail("unterminated label value")
        at++
        if (c === '"') break
        if (c === "\n") return fail("raw newline in label value")
        if (c === "\\") {
          const escaped = text[at++]
          if (escaped === "\\") value += "\\"
          else if (escaped === '"') value += '"'
          else if (escaped === "n") value += "\n"
          else return fail(`bad escape \\${escaped ?? ""} in label value`)
        } else value += c
      }
      labels[label] = value
      if (text[at] === ",") at++
      else if (text[at] !== "}") return fail("expected , or } after a label")
    }
    at++
  }
  const rest = text.slice(at)
  if (!/^[ \t]/.test(rest)) return fail("no blank between the series and its value")
  const fields = rest.trim().split(/[ \t]+/)
  if (fields.length > 2) return fail("more than a value and a timestamp")
  const value = parseValue(fields[0] ?? "")
  if (value === undefined) return fail(`bad value ${fields[0]}`)
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) return fail(`bad timestamp ${fields[1]}`)
  return { name, labels, value }
}

/** The family a sample belongs to: a histogram's `_bucket`/`_sum`/`_count`, a summary's `_sum`/`_count`. */
const familyOf = (sample: string, declared: ReadonlyMap<string, MetricType>) => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue
    const base = sample.slice(0, -suffix.length)
    const type = declared.get(base)
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
  }
  return sample
}

const seriesKey = (sample: Sample) =>
  `${sample.name}{${Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`

const checkHistogram = (family: Family) => {
  const withoutLe = (labels: Readonly<Record<string, string>>) => {
    const { le: _, ...rest } = labels
    return JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
  for (const sample of family.samples) {
    const key = withoutLe(sample.labels)
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le
      const bound = le === undefined ? undefined : parseValue(le)
      if (bound === undefined) throw new Error(`${family.name}: a bucket without a valid le: ${key}`)
      entry.buckets.push([bound, sample.value])
    } else if (sample.name === `${family.name}_sum`) entry.sum = sample.value
    else if (sample.name === `${family.name}_count`) entry.count = sample.value
    else throw new Error(`${family.name}: histogram sample ${sample.name} is not _bucket, _sum or _count`)
  }
  for (const [key, entry] of series) {
    const { buckets } = entry
    for (let i = 1; i < buckets.length; i++) {
      const [bound, count] = buckets[i]!
      const [previousBound, previousCount] = buckets[i - 1]!
      if (!(bound > previousBound)) throw new Error(`${family.name}${key}: le not increasing`)
      if (count < previousCount) throw new Error(`${family.name}${key}: bucket counts decrease at le=${bound}`)
    }
    const last = buckets.at(-1)
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no le="+Inf" bucket`)
    if (entry.count === undefined || entry.sum === undefined)
      throw new Error(`${family.name}${key}: _sum or _count missing`)
    if (last[1] !== entry.count) throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} ≠ _count ${entry.count}`)
  }
}

/** Every family of an exposition, in order; throws at the first violation of the format. */
export const parsePrometheusText = (text: string): ReadonlyArray<Family> => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const declared = new Map<string, MetricType>()
  const helps = new Map<string, string>()
  const samples = new Map<string, Array<Sample>>()
  const finished = new Set<string>()
  const seen = new Set<string>()
  const order: Array<string> = []
  let current: string | undefined
  const enter = (family: string, fail: (problem: string) => never) => {
    if (family === current) return
    if (finished.has(family)) fail(`family ${family} is split: its lines must be together`)
    if (current !== undefined) finished.add(current)
    current = family
    order.push(family)
  }
  const lines = text.split("\n").slice(0, -1)
  lines.forEach((line, index) => {
    const fail = (problem: string): never => {
      throw new ParseError(index + 1, line, problem)
    }
    if (line.trim() === "") return
    if (line.startsWith("#")) {
      const directive = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line)
      if (directive === null) return // a comment
      const [, keyword, name, rest = ""] = directive as unknown as [string, "HELP" | "TYPE", string, string?]
      if (metricName.exec(name)?.[0] !== name) fail(`bad metric name ${name}`)
      enter(name, fail)
      if (keyword === "HELP") {
        if (helps.has(name)) fail(`second HELP for ${name}`)
        helps.set(name, unescapeHelp(rest))
      } else {
        if (declared.has(name)) fail(`second TYPE for ${name}`)
        if (samples.has(name)) fail(`TYPE for ${name} after its samples`)
        if (!types.has(rest.trim())) fail(`unknown type ${rest}`)
        declared.set(name, rest.trim() as MetricType)
      }
      return
    }
    const sample = parseSample(line, fail)
    const family = familyOf(sample.name, declared)
    enter(family, fail)
    const key = seriesKey(sample)
    if (seen.has(key)) fail(`series ${key} twice`)
    seen.add(key)
    if (declared.get(family) === "counter" && !(sample.value >= 0)) fail("a counter below zero")
    const list = samples.get(family) ?? []
    list.push(sample)
    samples.set(family, list)
  })
  const families = order.map(
    (name): Family => ({
      name,
      type: declared.get(name) ?? "untyped",
      help: helps.get(name),
      samples: samples.get(name) ?? []
    })
  )
  for (const family of families) if (family.type === "histogram") checkHistogram(family)
  return families
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export const sumOf = (
  families: ReadonlyArray<Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number =>
  families
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
