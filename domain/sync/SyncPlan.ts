import type { Provider } from "../Provider.ts"

/** How far back each provider answers incremental reads (Stripe events, QuickBooks CDC: 30 days). */
export const historyDays: Record<Provider, number | null> = {
  stripe: 30,
  quickbooks: 30,
  square: null,
  mailchimp: null
}

/** Read a little earlier than the watermark: provider clocks and ours differ, and a re-read record is unchanged. */
export const overlapMillis = 60_000

export interface PassPlan {
  readonly mode: "full" | "incremental"
  readonly since: Date | null
  /** Why the plan differs from what was asked, for the job's log. */
  readonly note: string | null
}

const day = 86_400_000

/**
 * What a new pass reads. A full request is full. An incremental one is full when there is nothing to be incremental
 * from (no earlier complete pass) or the watermark is older than the provider keeps history; otherwise it reads from
 * the watermark minus a small overlap.
 */
export const planPass = (
  provider: Provider,
  requested: "full" | "incremental",
  watermark: Date | null,
  now: Date
): PassPlan => {
  if (requested === "full") return { mode: "full", since: null, note: null }
  if (watermark === null) return { mode: "full", since: null, note: "no earlier complete pass: syncing in full" }
  const since = new Date(watermark.getTime() - overlapMillis)
  const keeps = historyDays[provider]
  // A day's margin: a pass started just inside the window must not cross its edge mid-way.
  if (keeps !== null && now.getTime() - since.getTime() > (keeps - 1) * day) {
    return {
      mode: "full",
      since: null,
      note: `last sync ${since.toISOString()} is older than ${provider} keeps changes (${keeps} days): syncing in full`
    }
  }
  return { mode: "incremental", since, note: null }
}
