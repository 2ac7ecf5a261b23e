import { Result, Schema } from "effect"

/** What `GET /admin/costs` sums by: `integration_costs` is kept per tenant, connection and UTC day. */
export const CostGroup = Schema.Literals(["tenant", "venue", "provider", "day"])
export type CostGroup = typeof CostGroup.Type

/** A UTC day as `YYYY-MM-DD`. */
export const Day = Schema.String.check(Schema.isPattern(/^\d{4}-\d{2}-\d{2}$/)).annotate({
  description: "a UTC day, YYYY-MM-DD"
})

/** UTC days, both included. */
export interface CostRange {
  readonly from: string
  readonly to: string
}

export interface CostRangeProblem {
  readonly field: "from" | "to"
  readonly message: string
}

const dayMillis = 86_400_000

/** Costs are read over at most this many days: a year and a day, so a whole year compares with the one before. */
export const maxCostDays = 366

/** 30 days when not said otherwise: the same window as the 30-day metrics. */
export const defaultCostDays = 30

const dayOf = (millis: number) => new Date(millis).toISOString().slice(0, 10)

/** A real calendar day (`2026-02-30` is not), as epoch ms at 00:00 UTC. */
const parse = (day: string): number | null => {
  const millis = Date.parse(`${day}T00:00:00Z`)
  return Number.isNaN(millis) || dayOf(millis) !== day ? null : millis
}

/**
 * The range asked for, with its defaults: `to` today (UTC), `from` 29 days before `to`. Refused, naming the field:
 * a day that does not exist, `from` after `to`, a range longer than `maxCostDays`.
 */
export const costRange = (
  input: { readonly from?: string | undefined; readonly to?: string | undefined },
  now: number
): Result.Result<CostRange, CostRangeProblem> => {
  const to = input.to === undefined ? Math.floor(now / dayMillis) * dayMillis : parse(input.to)
  if (to === null) return Result.fail({ field: "to", message: `${input.to} is not a day` })
  const from = input.from === undefined ? to - (defaultCostDays - 1) * dayMillis : parse(input.from)
  if (from === null) return Result.fail({ field: "from", message: `${input.from} is not a day` })
  if (from > to) return Result.fail({ field: "from", message: `from ${dayOf(from)} is after to ${dayOf(to)}` })
  if ((to - from) / dayMillis + 1 > maxCostDays)
    return Result.fail({ field: "to", message: `a range spans at most ${maxCostDays} days` })
  return Result.succeed({ from: dayOf(from), to: dayOf(to) })
}
