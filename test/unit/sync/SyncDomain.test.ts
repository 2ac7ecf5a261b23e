import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { bucketOf, defaultBudgets } from "../../../domain/sync/Budget.ts"
import { progressOf } from "../../../domain/sync/Progress.ts"
import { overlapMillis, planPass } from "../../../domain/sync/SyncPlan.ts"

const day = 86_400_000

describe("budgets", () => {
  it("never exceed the limit in any window, with a margin, and use at least 90 % of it from 20 calls a window", () =>
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 100, max: 3_600_000 }), (limit, window) => {
        const bucket = bucketOf({ limit, windowMillis: window, concurrency: 1 })
        const steadyPerWindow = (window / bucket.windowMillis) * bucket.limit
        // At most a full bucket at the window's start, then the steady rate throughout it.
        assert.isAtMost(bucket.limit + steadyPerWindow, Math.max(limit - 1, 2) + 1e-6)
        if (limit >= 20) assert.isAtLeast(steadyPerWindow / limit, 0.9)
      })
    ))

  it("QuickBooks' 500 a minute: a burst of 10, then 480 a minute, 10 to spare", () => {
    const bucket = bucketOf(defaultBudgets.quickbooks)
    assert.strictEqual(bucket.limit, 10)
    assert.strictEqual(Math.round((60_000 / bucket.windowMillis) * bucket.limit), 480)
  })
})

describe("sync plan", () => {
  const now = new Date("2026-12-02T12:00:00Z")
  it("a full request is full; without a watermark an incremental one is full too", () => {
    assert.deepStrictEqual(planPass("stripe", "full", new Date(now.getTime() - day), now), {
      mode: "full",
      since: null,
      note: null
    })
    assert.strictEqual(planPass("square", "incremental", null, now).mode, "full")
  })

  it("incremental reads from the watermark less the overlap, within the provider's history", () =>
    fc.assert(
      fc.property(
        fc.constantFrom("stripe", "quickbooks", "square", "mailchimp" as const),
        fc.integer({ min: 0, max: 90 }),
        (provider, days) => {
          const watermark = new Date(now.getTime() - days * day)
          const plan = planPass(provider, "incremental", watermark, now)
          const keeps = provider === "stripe" || provider === "quickbooks" ? 30 : null
          if (keeps !== null && days >= keeps - 1) {
            assert.strictEqual(plan.mode, "full")
            assert.include(plan.note ?? "", `${keeps} days`)
          } else {
            assert.strictEqual(plan.mode, "incremental")
            assert.strictEqual(plan.since?.getTime(), watermark.getTime() - overlapMillis)
          }
        }
      )
    ))
})

describe("progress", () => {
  it("percent, rate and eta from the counts and the clock; unknown totals stay unknown", () => {
    const started = new Date("2026-12-02T12:00:00Z")
    const at = new Date("2026-12-02T12:00:10Z")
    assert.deepStrictEqual(progressOf(500, 2_000, started, at), {
      processed: 500,
      total: 2_000,
      percent: 25,
      recordsPerSecond: 50,
      etaSeconds: 30
    })
    assert.deepStrictEqual(progressOf(500, null, started, at), {
      processed: 500,
      total: null,
      percent: null,
      recordsPerSecond: 50,
      etaSeconds: null
    })
  })
})
