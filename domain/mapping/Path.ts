/**
 * Field paths of the mapping language: dot-separated names, where a name may
 * end in `[]` (every element of an array, mapped element by element) or in
 * `[key=value]` (the element of an array whose `key` equals `value`, e.g.
 * QuickBooks `CustomField[DefinitionId=1].StringValue`) or in `[n]` (the
 * n-th element, from 0). `*` stands for any
 * key in catalogs only.
 */
export interface Segment {
  readonly name: string
  readonly each: boolean
  readonly select?: { readonly key: string; readonly value: string }
  readonly index?: number
}

export const maxPathDepth = 8
export const maxPathLength = 200

const segmentPattern = /^([^.[\]=]+)(?:(\[\])|\[(\d{1,4})\]|\[([^.[\]=]+)=([^.[\]=]+)\])?$/

/** The path's segments, or why it is not a path. */
export const parsePath = (path: string): ReadonlyArray<Segment> | string => {
  if (path.length === 0) return "an empty path"
  if (path.length > maxPathLength) return `longer than ${maxPathLength} characters`
  const parts = path.split(".")
  if (parts.length > maxPathDepth) return `deeper than ${maxPathDepth} levels`
  const segments: Array<Segment> = []
  for (const part of parts) {
    const match = segmentPattern.exec(part)
    if (match === null || match[1]!.trim() !== match[1]) return `${JSON.stringify(part)} is not a path segment`
    segments.push(
      match[4] !== undefined
        ? { name: match[1]!, each: false, select: { key: match[4], value: match[5]! } }
        : match[3] !== undefined
          ? { name: match[1]!, each: false, index: Number(match[3]) }
          : { name: match[1]!, each: match[2] !== undefined }
    )
  }
  if (segments.filter((s) => s.each).length > 1) return "at most one [] per path"
  return segments
}

type Getter = (record: unknown) => unknown

const child = (value: unknown, name: string): unknown =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined

const selected = (value: unknown, key: string, wanted: string): unknown =>
  Array.isArray(value) ? value.find((element) => String(child(element, key)) === wanted) : undefined

/** A reader for a path without `[]`, compiled once: missing steps give undefined. */
export const getterOf = (segments: ReadonlyArray<Segment>): Getter => {
  const plain = segments.every((s) => s.select === undefined && s.index === undefined)
  if (plain && segments.length === 1) {
    const name = segments[0]!.name
    return (record) => child(record, name)
  }
  if (plain && segments.length === 2) {
    const [a, b] = [segments[0]!.name, segments[1]!.name]
    return (record) => child(child(record, a), b)
  }
  return (record) => {
    let value = record
    for (const segment of segments) {
      value = child(value, segment.name)
      if (segment.select !== undefined) value = selected(value, segment.select.key, segment.select.value)
      else if (segment.index !== undefined) value = Array.isArray(value) ? value[segment.index] : undefined
      if (value === undefined) return undefined
    }
    return value
  }
}

const objectAt = (parent: Record<string, unknown>, segment: Segment): Record<string, unknown> => {
  if (segment.index !== undefined) {
    const list = Array.isArray(parent[segment.name]) ? (parent[segment.name] as Array<unknown>) : []
    parent[segment.name] = list
    const found = list[segment.index]
    if (found !== null && typeof found === "object" && !Array.isArray(found)) return found as Record<string, unknown>
    const created: Record<string, unknown> = {}
    list[segment.index] = created
    return created
  }
  if (segment.select !== undefined) {
    const list = Array.isArray(parent[segment.name]) ? (parent[segment.name] as Array<unknown>) : []
    parent[segment.name] = list
    const found = list.find((element) => String(child(element, segment.select!.key)) === segment.select!.value)
    if (found !== undefined && found !== null && typeof found === "object") return found as Record<string, unknown>
    const created: Record<string, unknown> = { [segment.select.key]: segment.select.value }
    list.push(created)
    return created
  }
  const existing = parent[segment.name]
  if (existing !== null && typeof existing === "object" && !Array.isArray(existing))
    return existing as Record<string, unknown>
  const created: Record<string, unknown> = {}
  parent[segment.name] = created
  return created
}

/** A writer for a path without `[]`: creates the objects (and selected array elements) on the way. */
export const setterOf = (segments: ReadonlyArray<Segment>) => {
  const last = segments[segments.length - 1]!
  const parents = segments.slice(0, -1)
  return (target: Record<string, unknown>, value: unknown): void => {
    let parent = target
    for (const segment of parents) parent = objectAt(parent, segment)
    if (last.select !== undefined || last.index !== undefined) objectAt(parent, last)
    else parent[last.name] = value
  }
}

/** Splits a path at its `[]`: the array's path and the path inside each element. */
export const splitAtEach = (
  segments: ReadonlyArray<Segment>
): { readonly array: ReadonlyArray<Segment>; readonly element: ReadonlyArray<Segment> } | undefined => {
  const at = segments.findIndex((s) => s.each)
  if (at < 0) return undefined
  return {
    array: [...segments.slice(0, at), { name: segments[at]!.name, each: false }],
    element: segments.slice(at + 1)
  }
}

/** The path text of some segments. */
export const pathText = (segments: ReadonlyArray<Segment>): string =>
  segments
    .map((s) =>
      s.each
        ? `${s.name}[]`
        : s.select
          ? `${s.name}[${s.select.key}=${s.select.value}]`
          : s.index !== undefined
            ? `${s.name}[${s.index}]`
            : s.name
    )
    .join(".")
