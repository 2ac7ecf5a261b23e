/**
 * Bracket-aware `application/x-www-form-urlencoded` parser: `data[merges][FNAME]=x` → `{ data: { merges: { FNAME: "x" } } }`.
 * `parseFormBody(text)` → `Result<FormMap, string>`; the failure names the offending key.
 */
import { Result } from "effect"

export type FormValue = string | FormMap
export interface FormMap {
  readonly [key: string]: FormValue
}

type MutableMap = { [key: string]: FormValue }

// `name[a][b]`; anything else (an unclosed `[`, text after a `]`) is taken as one literal key, as PHP and qs do.
const bracketed = /^([^[\]]+)((?:\[[^[\]]*\])*)$/

const segmentsOf = (key: string): ReadonlyArray<string> => {
  const match = bracketed.exec(key)
  if (match === null) return [key]
  const [, name, brackets] = match
  return [name!, ...Array.from(brackets!.matchAll(/\[([^[\]]*)\]/g), (m) => m[1]!)]
}

// defineProperty makes an own property even for `__proto__`, so a hostile key cannot reach a prototype.
const put = (target: MutableMap, key: string, value: FormValue) =>
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })

/**
 * A key repeated with a plain value keeps its first value (Mailchimp's own samples repeat `data[reason]`). Empty
 * brackets (`a[]`) and a key that is both a value and a map are refused: Mailchimp sends neither.
 */
export const parseFormBody = (text: string): Result.Result<FormMap, string> => {
  const root: MutableMap = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const path = segmentsOf(key)
    if (path.some((segment) => segment === "")) return Result.fail(`empty brackets in form key "${key}"`)
    let node = root
    for (const [index, segment] of path.entries()) {
      const existing = Object.hasOwn(node, segment) ? node[segment] : undefined
      if (index === path.length - 1) {
        if (existing === undefined) put(node, segment, value)
        else if (typeof existing !== "string") return Result.fail(`form key "${key}" is both a value and a map`)
        break
      }
      if (existing === undefined) {
        const child: MutableMap = {}
        put(node, segment, child)
        node = child
      } else if (typeof existing === "string") {
        return Result.fail(`form key "${key}" is both a value and a map`)
      } else {
        node = existing as MutableMap
      }
    }
  }
  return Result.succeed(root)
}
