import type { Provider } from "../Provider.ts"

/** How many calls an account may make per window, and how many at once (PROVIDERS.md §1d). */
export interface Budget {
  readonly limit: number
  readonly windowMillis: number
  readonly concurrency: number
}

/**
 * The documented limits, as defaults (each is configurable): Stripe's per-endpoint default of 25 req/s; QuickBooks
 * 500 req/min and about 10 in flight per realm; Mailchimp 10 concurrent connections per key (no rate published, so
 * a generous one); Square publishes nothing, so a conservative 10 req/s.
 */
export const defaultBudgets: Record<Provider, Budget> = {
  stripe: { limit: 25, windowMillis: 1_000, concurrency: 10 },
  quickbooks: { limit: 500, windowMillis: 60_000, concurrency: 10 },
  mailchimp: { limit: 50, windowMillis: 1_000, concurrency: 10 },
  square: { limit: 10, windowMillis: 1_000, concurrency: 5 }
}

/**
 * The token bucket that spends a budget without exceeding it in any window of its length, wherever the provider
 * starts counting: a burst of 2 % (at least one call) and a steady rate, with a margin of 2 % (at least one call) for
 * calls that reach the provider later than they left (a busy process, the network), so that
 * burst + rate × window + margin = limit. Sustained use is 96 % of QuickBooks' 500/min, 90 % of 20 a window.
 */
export const bucketOf = (budget: Budget): { readonly limit: number; readonly windowMillis: number } => {
  const share = Math.max(1, Math.floor(budget.limit * 0.02))
  const steady = Math.max(1, budget.limit - 2 * share)
  return { limit: share, windowMillis: (share * budget.windowMillis) / steady }
}
