import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { outcomeOfFailure, outcomeOfStatus } from "../../../domain/operations/CallOutcome.ts"
import {
  addHistograms,
  bucketCount,
  bucketOf,
  emptyHistogram,
  latencyEdges,
  percentile
} from "../../../domain/operations/LatencyHistogram.ts"
import { rangeOf, report, summarize } from "../../../domain/operations/MetricsReport.ts"
import { costOfCalls, costOfWork, defaultPrices, priceOf, withDefaults } from "../../../domain/operations/Prices.ts"
import { providers } from "../../../domain/Provider.ts"

const histogramOf = (latencies: ReadonlyArray<number>) => {
  const h = emptyHistogram()
  for (const l of latencies) h[bucketOf(l)] = (h[bucketOf(l)] ?? 0) + 1
  return h
}

/** The exact q-quantile: the value of rank ceil(q × n). */
const exact = (latencies: ReadonlyArray<number>, q: number) => {
  const sorted = [...latencies].sort((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number
}

const bounds = (bucket: number) => ({
  lower: bucket === 0 ? 0 : (latencyEdges[bucket - 1] as number),
  upper: bucket < latencyEdges.length ? (latencyEdges[bucket] as number) : Number.POSITIVE_INFINITY
})

const latencies = fc.array(fc.integer({ min: 0, max: 120_000 }), { minLength: 1, maxLength: 400 })
const quantile = fc.double({ min: 0.01, max: 1, noNaN: true })

describe("latency histogram", () => {
  it("puts each latency in the bucket whose edges hold it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200_000 }), (ms) => {
        const b = bucketOf(ms)
        const { lower, upper } = bounds(b)
        assert.isTrue(b === 0 ? ms <= upper : ms > lower && ms <= upper)
      })
    )
    assert.strictEqual(bucketCount, latencyEdges.length + 1)
  })

  it("estimates a percentile inside the exact percentile's bucket, never above the slowest call", () => {
    fc.assert(
      fc.property(latencies, quantile, (ls, q) => {
        const max = Math.max(...ls)
        const estimate = percentile(histogramOf(ls), q, max) as number
        const truth = exact(ls, q)
        const { lower, upper } = bounds(bucketOf(truth))
        assert.isAtLeast(estimate, lower, `q=${q} truth=${truth}`)
        assert.isAtMost(estimate, Math.min(upper, max), `q=${q} truth=${truth}`)
      })
    )
  })

  it("is monotone in q", () => {
    fc.assert(
      fc.property(latencies, quantile, quantile, (ls, a, b) => {
        const h = histogramOf(ls)
        const max = Math.max(...ls)
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        assert.isAtMost(percentile(h, lo, max) as number, percentile(h, hi, max) as number)
      })
    )
  })

  it("adds histograms as if the calls had been counted together", () => {
    fc.assert(
      fc.property(latencies, latencies, (a, b) => {
        assert.deepStrictEqual(addHistograms(histogramOf(a), histogramOf(b)), histogramOf([...a, ...b]))
      })
    )
    assert.deepStrictEqual(addHistograms([1, 2], [1, 1, 1]), [2, 3, 1])
  })

  it("has no percentile without calls; one call is its own latency", () => {
    assert.isNull(percentile(emptyHistogram(), 0.5, 0))
    assert.strictEqual(percentile(histogramOf([42]), 0.99, 42), 42)
    assert.strictEqual(percentile(histogramOf([45_000]), 0.5, 45_000), 45_000)
  })
})

describe("call outcomes", () => {
  it("classes statuses and the adapters' failures", () => {
    assert.deepStrictEqual([200, 404, 429, 503, null].map(outcomeOfStatus), ["ok", "4xx", "429", "5xx", "timeout"])
    const failed = (kind: string, status: number | null) => ({ _tag: "ProviderCallFailed", kind, status })
    assert.strictEqual(outcomeOfFailure(failed("rate_limited", null)), "429")
    assert.strictEqual(outcomeOfFailure(failed("unavailable", 502)), "5xx")
    assert.strictEqual(outcomeOfFailure(failed("unavailable", null)), "timeout")
    assert.strictEqual(outcomeOfFailure(failed("unauthorized", 401)), "4xx")
    assert.strictEqual(outcomeOfFailure(failed("not_found", null)), "4xx")
    assert.strictEqual(outcomeOfFailure({ _tag: "HistoryExpired" }), "5xx")
    assert.strictEqual(outcomeOfFailure(undefined), "5xx")
  })
})

describe("prices", () => {
  it("meters QuickBooks CorePlus reads, not its writes nor other providers", () => {
    assert.deepStrictEqual(priceOf(defaultPrices, "quickbooks", "read_customer"), {
      microsPer1000: 3_500,
      quota: true
    })
    assert.deepStrictEqual(priceOf(defaultPrices, "quickbooks", "company_info").quota, true)
    // Health and reconnect checks read CompanyInfo: metered like it.
    for (const check of ["health_check", "reconnect_check"])
      assert.strictEqual(priceOf(defaultPrices, "quickbooks", check).quota, true, check)
    assert.deepStrictEqual(priceOf(defaultPrices, "quickbooks", "write_invoice"), { microsPer1000: 0, quota: false })
    for (const p of ["stripe", "square", "mailchimp"] as const)
      assert.deepStrictEqual(costOfCalls(defaultPrices, p, "read_customer", "ok", 1_000), {
        costMicros: 0,
        quotaCalls: 0
      })
    assert.deepStrictEqual(costOfCalls(defaultPrices, "quickbooks", "read_invoice", "ok", 1_000), {
      costMicros: 3_500,
      quotaCalls: 1_000
    })
  })

  it("bills answered calls only", () => {
    for (const outcome of ["429", "5xx", "timeout"] as const)
      assert.deepStrictEqual(costOfCalls(defaultPrices, "quickbooks", "read_customer", outcome, 10), {
        costMicros: 0,
        quotaCalls: 0
      })
    assert.strictEqual(costOfCalls(defaultPrices, "quickbooks", "read_customer", "4xx", 10).quotaCalls, 10)
  })

  it("takes the longest matching pattern; configured providers replace their defaults", () => {
    const table = withDefaults({
      calls: {
        stripe: {
          "*": { microsPer1000: 1, quota: false },
          "read_*": { microsPer1000: 10, quota: false },
          read_customer: { microsPer1000: 100, quota: true }
        }
      },
      workerMicrosPerSecond: 1_000
    })
    assert.strictEqual(priceOf(table, "stripe", "read_customer").microsPer1000, 100)
    assert.strictEqual(priceOf(table, "stripe", "read_order").microsPer1000, 10)
    assert.strictEqual(priceOf(table, "stripe", "account").microsPer1000, 1)
    assert.strictEqual(priceOf(table, "quickbooks", "read_order").microsPer1000, 3_500)
    assert.strictEqual(costOfWork(table, 1_500), 1_500)
  })

  it("costs add up across flushes to within a micro per flush", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...providers),
        fc.constantFrom("read_customer", "query_x", "cdc", "write_customer", "company_info"),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 50 }),
        (provider, operation, flushes) => {
          const whole = costOfCalls(
            defaultPrices,
            provider,
            operation,
            "ok",
            flushes.reduce((a, b) => a + b, 0)
          )
          const parts = flushes.map((n) => costOfCalls(defaultPrices, provider, operation, "ok", n))
          const sum = parts.reduce((a, c) => a + c.costMicros, 0)
          assert.isAtMost(Math.abs(sum - whole.costMicros), flushes.length)
          assert.strictEqual(
            parts.reduce((a, c) => a + c.quotaCalls, 0),
            whole.quotaCalls
          )
        }
      )
    )
  })
})

describe("metrics report", () => {
  const now = Date.parse("2026-12-02T10:17:00Z")

  it("has 24 hourly buckets for 24h and 7 or 30 daily ones, ending with the current one", () => {
    const day = rangeOf("24h", now)
    assert.strictEqual(day.granularity, "hour")
    assert.strictEqual(day.starts.length, 24)
    assert.strictEqual(day.starts[23]?.toISOString(), "2026-12-02T10:00:00.000Z")
    assert.strictEqual(day.from.toISOString(), "2026-12-01T11:00:00.000Z")
    const month = rangeOf("30d", now)
    assert.strictEqual(month.granularity, "day")
    assert.strictEqual(month.starts.length, 30)
    assert.strictEqual(month.from.toISOString(), "2026-11-03T00:00:00.000Z")
    assert.strictEqual(rangeOf("7d", now).starts.length, 7)
  })

  it("sums buckets into totals with the percentiles of all calls", () => {
    const range = rangeOf("24h", now)
    const at = (i: number) => range.starts[i] as Date
    const row = (i: number, outcome: "ok" | "5xx" | "429", ls: ReadonlyArray<number>) => ({
      start: at(i),
      outcome,
      calls: ls.length,
      latencyMs: ls.reduce((a, b) => a + b, 0),
      latencyMaxMs: Math.max(...ls),
      buckets: histogramOf(ls),
      bytes: 10 * ls.length
    })
    const r = report(range, {
      calls: [row(0, "ok", [20, 30, 40]), row(23, "ok", [900]), row(23, "5xx", [3_000]), row(23, "429", [5])],
      syncs: [{ start: at(23), runs: 2, failed: 1, records: 150 }],
      webhooks: [{ start: at(5), received: 7, failed: 1, dead: 2 }]
    })
    assert.strictEqual(r.buckets.length, 24)
    assert.deepStrictEqual(r.totals.calls.errors, { "4xx": 0, "429": 1, "5xx": 1, timeout: 0 })
    assert.strictEqual(r.totals.calls.total, 6)
    assert.strictEqual(r.totals.calls.successRate, 4 / 6)
    assert.strictEqual(r.totals.calls.rateLimited, 1)
    assert.strictEqual(r.totals.calls.latencyMs.max, 3_000)
    assert.strictEqual(r.totals.calls.bytes, 60)
    assert.deepStrictEqual(r.totals.syncs, { runs: 2, failed: 1, records: 150 })
    assert.deepStrictEqual(r.totals.webhooks, { received: 7, failed: 1, dead: 2 })
    assert.strictEqual(r.buckets[0]?.calls.total, 3)
    assert.strictEqual(r.buckets[1]?.calls.total, 0)
    assert.isNull(r.buckets[1]?.calls.successRate ?? null)
    assert.strictEqual(r.buckets[23]?.calls.total, 3)
    assert.strictEqual(r.buckets[5]?.webhooks.received, 7)
    assert.deepStrictEqual(summarize({ calls: [], syncs: [], webhooks: [] }).calls.latencyMs, {
      p50: null,
      p95: null,
      p99: null,
      mean: null,
      max: null
    })
  })
})
