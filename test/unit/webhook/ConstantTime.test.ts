import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { bytesEqual, stringsEqual } from "../../../adapters/webhook/ConstantTime.ts"

describe("ConstantTime", () => {
  it("compares bytes and strings exactly", () => {
    assert.isTrue(bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])))
    assert.isFalse(bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])))
    assert.isFalse(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])))
    assert.isTrue(bytesEqual(new Uint8Array(), new Uint8Array()))
    assert.isTrue(stringsEqual("whsec_é", "whsec_é"))
    assert.isFalse(stringsEqual("secret", "secret\0"))
    assert.isFalse(stringsEqual("", "x"))
  })

  it("agrees with ordinary equality (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        assert.strictEqual(stringsEqual(a, b), a === b)
        assert.isTrue(stringsEqual(a, a))
      })
    )
  })
})
