import { Schema } from "effect"

/**
 * ISO 4217 minor-unit exponents of the active currencies. Amounts are integers
 * in minor units, so "12.5 USD" is 1250 but "1250 JPY" is 1250 and
 * "1.250 KWD" is 1250: never "always /100".
 */
const exponents: Readonly<Record<string, number>> = (() => {
  const table: Record<string, number> = {}
  const two =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF " +
    "CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF " +
    "IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN " +
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS " +
    "SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWG"
  for (const code of two.split(" ")) table[code] = 2
  for (const code of "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(" ")) table[code] = 0
  for (const code of "BHD IQD JOD KWD LYD OMR TND".split(" ")) table[code] = 3
  for (const code of "CLF UYW".split(" ")) table[code] = 4
  return table
})()

/** Minor-unit exponent of an ISO 4217 code (any case), or undefined for an unknown code. */
export const exponentOf = (currency: string): number | undefined => exponents[currency.toUpperCase()]

export const isCurrency = (code: string): boolean => /^[A-Z]{3}$/.test(code) && exponents[code] !== undefined

/** An active ISO 4217 code in upper case. */
export const Currency = Schema.String.check(
  Schema.makeFilter((code: string) => isCurrency(code) || `${JSON.stringify(code)} is not an ISO 4217 currency code`)
).annotate({ identifier: "Currency", description: "ISO 4217 currency code, upper case" })

/** An amount in the currency's minor units (cents, yen, fils). */
export const MinorUnits = Schema.Int.annotate({ description: "integer amount in the currency's minor units" })

const decimalPattern = /^(-)?(\d+)(?:\.(\d+))?$/

/**
 * "12.50" or 12.5 in `currency` → 1250 minor units. Refuses more significant
 * decimals than the currency has (rounding money silently is a bug), unknown
 * currencies and amounts beyond what a double holds exactly.
 */
export const toMinor = (amount: string | number, currency: string): number | string => {
  const exponent = exponentOf(currency)
  if (exponent === undefined) return `${JSON.stringify(currency)} is not an ISO 4217 currency code`
  const text = typeof amount === "number" ? (Number.isFinite(amount) ? String(amount) : "") : amount.trim()
  const match = decimalPattern.exec(text)
  if (match === null) return `${JSON.stringify(amount)} is not a decimal amount`
  const [, sign, whole = "", fraction = ""] = match
  const significant = fraction.replace(/0+$/, "")
  if (significant.length > exponent)
    return `${text} has more decimals than ${currency.toUpperCase()} allows (${exponent})`
  const digits = `${whole}${significant.padEnd(exponent, "0")}`.replace(/^0+(?=\d)/, "")
  const minor = Number(digits)
  if (!Number.isSafeInteger(minor)) return `${text} is too large`
  return sign === "-" && minor !== 0 ? -minor : minor
}

/** 1250 minor units of `currency` → "12.50" (JPY: "1250", KWD: "1.250"). */
export const toDecimal = (minor: number, currency: string): string | undefined => {
  const exponent = exponentOf(currency)
  if (exponent === undefined || !Number.isSafeInteger(minor)) return undefined
  const digits = String(Math.abs(minor)).padStart(exponent + 1, "0")
  const whole = digits.slice(0, digits.length - exponent)
  const fraction = digits.slice(digits.length - exponent)
  return `${minor < 0 ? "-" : ""}${whole}${exponent === 0 ? "" : `.${fraction}`}`
}
