import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { exponentOf, isCurrency, toDecimal, toMinor } from "../../../domain/canonical/Money.ts"

describe("money in minor units", () => {
  it("uses each currency's ISO 4217 exponent, not always /100", () => {
    assert.strictEqual(exponentOf("JPY"), 0)
    assert.strictEqual(exponentOf("USD"), 2)
    assert.strictEqual(exponentOf("usd"), 2)
    assert.strictEqual(exponentOf("KWD"), 3)
    assert.strictEqual(exponentOf("CLF"), 4)
    assert.strictEqual(exponentOf("XXX"), undefined)
    assert.strictEqual(toMinor("12.50", "USD"), 1250)
    assert.strictEqual(toMinor(12.5, "USD"), 1250)
    assert.strictEqual(toMinor("1250", "JPY"), 1250)
    assert.strictEqual(toMinor("1.250", "KWD"), 1250)
    assert.strictEqual(toMinor("-0.05", "EUR"), -5)
    assert.strictEqual(toDecimal(1250, "USD"), "12.50")
    assert.strictEqual(toDecimal(1250, "JPY"), "1250")
    assert.strictEqual(toDecimal(1250, "KWD"), "1.250")
    assert.strictEqual(toDecimal(-5, "EUR"), "-0.05")
    assert.strictEqual(toDecimal(7, "KWD"), "0.007")
  })

  it("refuses amounts it would have to round, unknown currencies and non-numbers", () => {
    assert.match(String(toMinor("12.345", "USD")), /more decimals than USD/)
    assert.match(String(toMinor("1.5", "JPY")), /more decimals than JPY/)
    assert.strictEqual(toMinor("12.3400", "USD"), 1234)
    assert.match(String(toMinor("12", "ABC")), /not an ISO 4217/)
    assert.match(String(toMinor("1e5", "USD")), /not a decimal/)
    assert.match(String(toMinor(Number.NaN, "USD")), /not a decimal/)
    assert.isFalse(isCurrency("usd"))
    assert.isTrue(isCurrency("KWD"))
  })

  it("minor → decimal → minor is the identity in every currency", () => {
    const currencies = ["USD", "JPY", "KWD", "EUR", "CLF", "BHD", "ISK"]
    fc.assert(
      fc.property(fc.constantFrom(...currencies), fc.maxSafeInteger(), fc.boolean(), (currency, n, negative) => {
        const minor = negative ? -n : n
        assert.strictEqual(toMinor(toDecimal(minor, currency)!, currency), minor === 0 ? 0 : minor)
      })
    )
  })
})
