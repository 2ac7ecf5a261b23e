import { Schema } from "effect"
import type { Provider } from "../Provider.ts"
import type { CallOutcome } from "./CallOutcome.ts"

/**
 * What one provider call costs: `microsPer1000` (millionths of a dollar per 1,000 calls), and whether the provider
 * counts it against a metered quota. Only answered calls are billed and metered (ok and 4xx): a 429, a 5xx or a
 * timeout is the provider not serving the call.
 */
export const CallPrice = Schema.Struct({
  microsPer1000: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  quota: Schema.Boolean
})
export type CallPrice = typeof CallPrice.Type

/**
 * The price table: per provider, operation patterns (an exact operation name, or a prefix ending in `*`) to prices;
 * the longest matching pattern wins, `*` alone is the provider's default. `workerMicrosPerSecond` prices sync
 * worker time. Configured as JSON in `OPERATIONS_PRICES`, which replaces the defaults of the providers it names.
 */
export const PriceTable = Schema.Struct({
  calls: Schema.Record(Schema.String, Schema.Record(Schema.String, CallPrice)),
  workerMicrosPerSecond: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
})
export type PriceTable = typeof PriceTable.Type

const free: CallPrice = { microsPer1000: 0, quota: false }

/**
 * Defaults. Stripe, Square and Mailchimp do not charge for API calls. QuickBooks meters CorePlus calls (reads:
 * queries, CDC, entity reads, CompanyInfo) per workspace and month — the Builder tier stops at 500,000 — while Core
 * calls (creates, updates) are unmetered; 3,500 micros per 1,000 CorePlus calls ($3.50) is an assumed overage rate,
 * to be replaced by the contract's through OPERATIONS_PRICES. Worker time: 6 micros per second, about one sync slot
 * of a small 2-vCPU instance.
 */
export const defaultPrices: PriceTable = {
  calls: {
    stripe: { "*": free },
    square: { "*": free },
    mailchimp: { "*": free },
    quickbooks: {
      "*": free,
      "read_*": { microsPer1000: 3_500, quota: true },
      "query_*": { microsPer1000: 3_500, quota: true },
      "cdc*": { microsPer1000: 3_500, quota: true },
      company_info: { microsPer1000: 3_500, quota: true },
      // Health and reconnect checks read CompanyInfo too. Token endpoint calls (oauth_*) are not API calls: not metered.
      health_check: { microsPer1000: 3_500, quota: true },
      reconnect_check: { microsPer1000: 3_500, quota: true }
    }
  },
  workerMicrosPerSecond: 6
}

/** What `OPERATIONS_PRICES` may say: either part of the table. */
export const PriceOverrides = Schema.Struct({
  calls: Schema.optionalKey(PriceTable.fields.calls),
  workerMicrosPerSecond: Schema.optionalKey(PriceTable.fields.workerMicrosPerSecond)
})
export type PriceOverrides = typeof PriceOverrides.Type

/** The configured table over the defaults: a provider named in `configured` takes its own patterns only. */
export const withDefaults = (configured: PriceOverrides): PriceTable => ({
  calls: { ...defaultPrices.calls, ...configured.calls },
  workerMicrosPerSecond: configured.workerMicrosPerSecond ?? defaultPrices.workerMicrosPerSecond
})

/** The price of `operation` at `provider`: its longest matching pattern; free when none matches. */
export const priceOf = (table: PriceTable, provider: Provider, operation: string): CallPrice => {
  const patterns = table.calls[provider] ?? {}
  let best: CallPrice = free
  let bestLength = -1
  for (const [pattern, price] of Object.entries(patterns)) {
    const matches = pattern.endsWith("*") ? operation.startsWith(pattern.slice(0, -1)) : operation === pattern
    const length = pattern.endsWith("*") ? pattern.length - 1 : Number.MAX_SAFE_INTEGER
    if (matches && length > bestLength) {
      best = price
      bestLength = length
    }
  }
  return best
}

const billed = (outcome: CallOutcome) => outcome === "ok" || outcome === "4xx"

export interface CallCost {
  readonly costMicros: number
  readonly quotaCalls: number
}

/** What `calls` calls of one operation and outcome cost, rounded to the micro (the ledger prices each flush). */
export const costOfCalls = (
  table: PriceTable,
  provider: Provider,
  operation: string,
  outcome: CallOutcome,
  calls: number
): CallCost => {
  if (!billed(outcome)) return { costMicros: 0, quotaCalls: 0 }
  const price = priceOf(table, provider, operation)
  return { costMicros: Math.round((calls * price.microsPer1000) / 1000), quotaCalls: price.quota ? calls : 0 }
}

/** What `millis` of sync worker time cost, rounded to the micro. */
export const costOfWork = (table: PriceTable, millis: number): number =>
  Math.round((millis * table.workerMicrosPerSecond) / 1000)
