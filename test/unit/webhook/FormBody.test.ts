import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { type FormMap, parseFormBody } from "../../../domain/FormBody.ts"
import { fixtureNames, fixtureText } from "./webhookFixtures.ts"

const parsed = (text: string): FormMap => Result.getOrThrow(parseFormBody(text))

const failure = (text: string): string => {
  const result = parseFormBody(text)
  return Result.isFailure(result) ? result.failure : assert.fail(`expected a failure for ${text}`)
}

/** `{a: {b: "x"}}` → `[["a[b]", "x"]]`: how PHP, qs and Mailchimp encode nested maps. */
const flatten = (map: FormMap, prefix?: string): Array<[string, string]> =>
  Object.entries(map).flatMap(([key, value]) => {
    const name = prefix === undefined ? key : `${prefix}[${key}]`
    return typeof value === "string" ? [[name, value] as [string, string]] : flatten(value, name)
  })

describe("parseFormBody", () => {
  it("nests bracketed keys", () => {
    assert.deepStrictEqual(parsed("type=profile&data%5Bmerges%5D%5BFNAME%5D=Mail+Chimp&data%5Bid%5D=8a"), {
      type: "profile",
      data: { merges: { FNAME: "Mail Chimp" }, id: "8a" }
    })
  })

  it("nests every Mailchimp fixture exactly as its flat JSON describes", () => {
    for (const name of fixtureNames("mailchimp")) {
      const flat = JSON.parse(fixtureText(name)) as Record<string, string>
      const form = parsed(fixtureText(name.replace("mailchimp/", "mailchimp/raw/").replace(".json", ".form")))
      assert.deepStrictEqual(flatten(form).sort(), Object.entries(flat).sort(), name)
    }
  })

  it("keeps the first value of a repeated key (Mailchimp's samples repeat data[reason])", () => {
    assert.deepStrictEqual(parsed("data[reason]=manual&data[reason]=hard"), { data: { reason: "manual" } })
  })

  it("takes malformed brackets literally", () => {
    assert.deepStrictEqual(parsed("a[b=1&[c]=2&d]=3&e[f]g=4"), { "a[b": "1", "[c]": "2", "d]": "3", "e[f]g": "4" })
  })

  it("cannot be steered into a prototype", () => {
    const form = parsed("__proto__[polluted]=yes&a[__proto__][x]=1&constructor[prototype][y]=2")
    assert.strictEqual(({} as Record<string, unknown>).polluted, undefined)
    assert.strictEqual(Object.getPrototypeOf(form), Object.prototype)
    assert.deepStrictEqual(Object.keys(form), ["__proto__", "a", "constructor"])
    assert.strictEqual((Object.getOwnPropertyDescriptor(form, "__proto__")!.value as FormMap).polluted, "yes")
  })

  it("refuses empty brackets and a key that is both a value and a map, naming the key", () => {
    assert.include(failure("a[]=1"), `"a[]"`)
    assert.include(failure("a=1&a[b]=2"), `"a[b]"`)
    assert.include(failure("a[b]=2&a=1"), `"a"`)
  })

  it("reads an empty body as an empty map", () => {
    assert.deepStrictEqual(parsed(""), {})
  })

  const key = fc.string({ minLength: 1, maxLength: 6, unit: "grapheme" }).filter((k) => !/[[\]]/.test(k))
  const { map } = fc.letrec<{ map: FormMap; value: string | FormMap }>((tie) => ({
    map: fc.dictionary(key, tie("value"), { minKeys: 1, maxKeys: 4 }),
    value: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.string({ unit: "grapheme" }), tie("map"))
  }))

  it("round-trips URLSearchParams encodings of nested maps (property)", () => {
    fc.assert(
      fc.property(map, (nested) => {
        assert.deepStrictEqual(parsed(new URLSearchParams(flatten(nested)).toString()), nested)
      }),
      { numRuns: 300 }
    )
  })
})
