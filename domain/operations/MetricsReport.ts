import { Schema } from "effect"
import { type CallOutcome, callOutcomes } from "./CallOutcome.ts"
import { addHistograms, emptyHistogram, percentile } from "./LatencyHistogram.ts"

export const MetricsPeriod = Schema.Literals(["24h", "7d", "30d"])
export type MetricsPeriod = typeof MetricsPeriod.Type

export type Granularity = "hour" | "day"

/** Provider calls of one bucket and outcome class; `buckets` is the latency histogram (LatencyHistogram.ts). */
export interface CallActivity {
  readonly start: Date
  readonly outcome: CallOutcome
  readonly calls: number
  readonly latencyMs: number
  readonly latencyMaxMs: number
  readonly buckets: ReadonlyArray<number>
  readonly bytes: number
}

/** Sync jobs requested in one bucket: those that ran, those that ended failed or dead, the records they read. */
export interface SyncActivity {
  readonly start: Date
  readonly runs: number
  readonly failed: number
  readonly records: number
}

/** Webhook events received in one bucket, and those of them now failed or dead. */
export interface WebhookActivity {
  readonly start: Date
  readonly received: number
  readonly failed: number
  readonly dead: number
}

export interface Activity {
  readonly calls: ReadonlyArray<CallActivity>
  readonly syncs: ReadonlyArray<SyncActivity>
  readonly webhooks: ReadonlyArray<WebhookActivity>
}

export interface MetricsRange {
  readonly period: MetricsPeriod
  readonly granularity: Granularity
  readonly from: Date
  readonly to: Date
  /** Each bucket's start, oldest first. */
  readonly starts: ReadonlyArray<Date>
}

const hour = 3_600_000
const day = 24 * hour

/** 24h: the last 24 UTC hours, the current one included, by hour; 7d and 30d: that many UTC days, by day. */
export const rangeOf = (period: MetricsPeriod, now: number): MetricsRange => {
  const [granularity, step, count] =
    period === "24h" ? (["hour", hour, 24] as const) : (["day", day, period === "7d" ? 7 : 30] as const)
  const first = Math.floor(now / step) * step - (count - 1) * step
  const starts = Array.from({ length: count }, (_, i) => new Date(first + i * step))
  return { period, granularity, from: new Date(first), to: new Date(now), starts }
}

export interface Summary {
  readonly calls: {
    readonly total: number
    readonly ok: number
    /** ok / total; null without calls. */
    readonly successRate: number | null
    readonly errors: {
      readonly "4xx": number
      readonly "429": number
      readonly "5xx": number
      readonly timeout: number
    }
    readonly rateLimited: number
    readonly bytes: number
    readonly latencyMs: {
      readonly p50: number | null
      readonly p95: number | null
      readonly p99: number | null
      readonly mean: number | null
      readonly max: number | null
    }
  }
  readonly syncs: { readonly runs: number; readonly failed: number; readonly records: number }
  readonly webhooks: { readonly received: number; readonly failed: number; readonly dead: number }
}

const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10)

/** One summary over any rows: counts add, histograms add, percentiles come from the summed histogram. */
export const summarize = (activity: Activity): Summary => {
  const byOutcome = Object.fromEntries(callOutcomes.map((o) => [o, 0])) as Record<CallOutcome, number>
  let histogram = emptyHistogram()
  let latency = 0
  let max = 0
  let bytes = 0
  for (const row of activity.calls) {
    byOutcome[row.outcome] += row.calls
    histogram = addHistograms(histogram, row.buckets)
    latency += row.latencyMs
    max = Math.max(max, row.latencyMaxMs)
    bytes += row.bytes
  }
  const total = callOutcomes.reduce((sum, o) => sum + byOutcome[o], 0)
  const sum = <K extends string>(rows: ReadonlyArray<Record<K, unknown>>, key: K) =>
    rows.reduce((n, r) => n + (r[key] as number), 0)
  return {
    calls: {
      total,
      ok: byOutcome.ok,
      successRate: total === 0 ? null : byOutcome.ok / total,
      errors: { "4xx": byOutcome["4xx"], "429": byOutcome["429"], "5xx": byOutcome["5xx"], timeout: byOutcome.timeout },
      rateLimited: byOutcome["429"],
      bytes,
      latencyMs: {
        p50: round(percentile(histogram, 0.5, max)),
        p95: round(percentile(histogram, 0.95, max)),
        p99: round(percentile(histogram, 0.99, max)),
        mean: total === 0 ? null : round(latency / total),
        max: total === 0 ? null : max
      }
    },
    syncs: {
      runs: sum(activity.syncs, "runs"),
      failed: sum(activity.syncs, "failed"),
      records: sum(activity.syncs, "records")
    },
    webhooks: {
      received: sum(activity.webhooks, "received"),
      failed: sum(activity.webhooks, "failed"),
      dead: sum(activity.webhooks, "dead")
    }
  }
}

export interface MetricsReport {
  readonly range: MetricsRange
  readonly totals: Summary
  readonly buckets: ReadonlyArray<Summary & { readonly start: Date }>
}

/** The totals over the range and one summary per bucket (empty buckets included, as zeros). */
export const report = (range: MetricsRange, activity: Activity): MetricsReport => {
  const at = (start: Date) => start.getTime()
  const of = <T extends { readonly start: Date }>(rows: ReadonlyArray<T>, start: number) =>
    rows.filter((r) => at(r.start) === start)
  return {
    range,
    totals: summarize(activity),
    buckets: range.starts.map((start) => ({
      start,
      ...summarize({
        calls: of(activity.calls, at(start)),
        syncs: of(activity.syncs, at(start)),
        webhooks: of(activity.webhooks, at(start))
      })
    }))
  }
}
