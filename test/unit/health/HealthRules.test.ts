import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { ConnectionStatus } from "../../../domain/Connection.ts"
import {
  assess,
  type CredentialClock,
  credentialExpiry,
  defaultHealthPolicy,
  type HealthInputs,
  type HealthSample,
  isProviderOutage,
  type ProbeOutcome,
  percentile,
  transitionOf
} from "../../../domain/health/HealthRules.ts"

const DAY = 86_400_000
const now = new Date(Date.UTC(2026, 5, 1))
const policy = defaultHealthPolicy

const sample = (outcome: ProbeOutcome, latencyMs = 100): HealthSample => ({ outcome, latencyMs, at: now })
const inputs = (samples: ReadonlyArray<HealthSample>, extra: Partial<HealthInputs> = {}): HealthInputs => ({
  connectionStatus: "connected",
  samples,
  credential: null,
  now,
  ...extra
})
const statusOf = (...outcomes: ReadonlyArray<ProbeOutcome>) => assess(inputs(outcomes.map((o) => sample(o)))).status

const quickbooks = (refreshInDays: number, authorizedDaysAgo = 30): CredentialClock => ({
  provider: "quickbooks",
  authorizedAt: new Date(now.getTime() - authorizedDaysAgo * DAY),
  accessTokenExpiresAt: new Date(now.getTime() + 3_600_000),
  refreshTokenExpiresAt: new Date(now.getTime() + refreshInDays * DAY),
  hasRefreshToken: true
})

describe("health rules", () => {
  it("failures in a row: one degrades, three make it unhealthy; a 429 is rate_limited and not a failure", () => {
    assert.strictEqual(statusOf("ok"), "healthy")
    assert.strictEqual(statusOf("ok", "server_error"), "degraded")
    assert.strictEqual(statusOf("ok", "server_error", "timeout"), "degraded")
    assert.strictEqual(statusOf("ok", "server_error", "timeout", "unreachable"), "unhealthy")
    assert.strictEqual(statusOf("server_error", "server_error", "rate_limited"), "rate_limited")
    assert.strictEqual(statusOf("server_error", "server_error", "rate_limited", "server_error"), "unhealthy")
    assert.strictEqual(statusOf("ok", "auth_refused"), "needs_reauth")
  })

  it("the error rate over the window keeps a connection degraded after its first success", () => {
    const result = assess(
      inputs(["ok", "server_error", "server_error", "server_error", "ok"].map((o) => sample(o as ProbeOutcome)))
    )
    assert.strictEqual(result.status, "degraded")
    assert.deepStrictEqual(result.reasons, ["error_rate"])
    assert.strictEqual(result.errorRate, 0.6)
  })

  it("p95 latency of successful checks above the limit degrades", () => {
    const slow = [...Array(19)].map(() => sample("ok", 100)).concat([sample("ok", 9_000)])
    assert.strictEqual(assess(inputs(slow)).status, "healthy")
    const slower = [...Array(18)].map(() => sample("ok", 100)).concat([sample("ok", 9_000), sample("ok", 9_000)])
    assert.strictEqual(assess(inputs(slower)).p95LatencyMs, 9_000)
    assert.deepStrictEqual(assess(inputs(slower)).reasons, ["slow"])
  })

  it("the connection's own state comes first", () => {
    assert.strictEqual(assess(inputs([sample("ok")], { connectionStatus: "disconnected" })).status, "disconnected")
    assert.strictEqual(assess(inputs([sample("ok")], { connectionStatus: "needs_reauth" })).status, "needs_reauth")
  })

  it("QuickBooks: a refresh token a week from its idle expiry is reported ahead; an expired one needs reauth", () => {
    assert.strictEqual(assess(inputs([sample("ok")], { credential: quickbooks(30) })).status, "healthy")
    const near = assess(inputs([sample("ok")], { credential: quickbooks(5) }))
    assert.strictEqual(near.status, "degraded")
    assert.deepStrictEqual(near.reasons, ["credential_expiring"])
    assert.strictEqual(near.credentialExpiresAt?.getTime(), now.getTime() + 5 * DAY)
    assert.strictEqual(assess(inputs([sample("ok")], { credential: quickbooks(-1) })).status, "needs_reauth")
  })

  it("QuickBooks: the 5-year limit is reported 30 days ahead, however fresh the refresh token", () => {
    const clock = quickbooks(100, 5 * 365 - 20)
    const expiry = credentialExpiry(clock, policy)
    assert.strictEqual(expiry?.kind, "refresh_token_hard_limit")
    assert.strictEqual(assess(inputs([sample("ok")], { credential: clock })).status, "degraded")
    assert.strictEqual(assess(inputs([sample("ok")], { credential: quickbooks(100, 5 * 365 - 40) })).status, "healthy")
  })

  it("Square: an access token with a week left is reported (its renewal has failed for three weeks)", () => {
    const square = (daysLeft: number): CredentialClock => ({
      provider: "square",
      authorizedAt: null,
      accessTokenExpiresAt: new Date(now.getTime() + daysLeft * DAY),
      refreshTokenExpiresAt: null,
      hasRefreshToken: true
    })
    assert.strictEqual(assess(inputs([sample("ok")], { credential: square(23) })).status, "healthy")
    assert.strictEqual(assess(inputs([sample("ok")], { credential: square(6) })).status, "degraded")
    assert.isNull(
      credentialExpiry({ ...square(6), provider: "mailchimp", accessTokenExpiresAt: null }, policy),
      "Mailchimp tokens do not expire"
    )
  })

  it("transitions: only a change of status, and the first healthy assessment is none", () => {
    const healthy = assess(inputs([sample("ok")]))
    const degraded = assess(inputs([sample("server_error")]))
    assert.isNull(transitionOf(null, healthy))
    assert.isNull(transitionOf("healthy", healthy))
    assert.deepStrictEqual(transitionOf("healthy", degraded), {
      from: "healthy",
      to: "degraded",
      reasons: ["consecutive_failures"],
      recovery: false
    })
    assert.isTrue(transitionOf("unhealthy", healthy)?.recovery)
  })

  it("a provider outage needs enough connections and most of them failing", () => {
    assert.isFalse(isProviderOutage({ connections: 2, failing: 2 }))
    assert.isTrue(isProviderOutage({ connections: 4, failing: 2 }))
    assert.isFalse(isProviderOutage({ connections: 10, failing: 4 }))
  })

  it("percentile is nearest-rank", () => {
    assert.strictEqual(percentile([5, 1, 3, 2, 4], 50), 3)
    assert.strictEqual(percentile([1], 95), 1)
  })
})

const outcome = fc.constantFrom<ProbeOutcome>(
  "ok",
  "auth_refused",
  "rate_limited",
  "server_error",
  "timeout",
  "unreachable",
  "client_error"
)
const anySample = fc.record({
  outcome,
  latencyMs: fc.integer({ min: 0, max: 20_000 }),
  at: fc.constant(now)
})
const history = fc.array(anySample, { maxLength: 40 })
const connectionStatus = fc.constantFrom<ConnectionStatus>("connected", "needs_reauth", "disconnected", "error")
const credential = fc.option(
  fc.record({
    provider: fc.constantFrom("quickbooks" as const, "square" as const, "mailchimp" as const, "stripe" as const),
    authorizedAt: fc.option(fc.integer({ min: -6 * 365, max: 0 }).map((d) => new Date(now.getTime() + d * DAY))),
    accessTokenExpiresAt: fc.option(fc.integer({ min: -5, max: 40 }).map((d) => new Date(now.getTime() + d * DAY))),
    refreshTokenExpiresAt: fc.option(fc.integer({ min: -5, max: 110 }).map((d) => new Date(now.getTime() + d * DAY))),
    hasRefreshToken: fc.boolean()
  })
)

describe("health rule properties", () => {
  it("recovery always follows a window of fast successes while connected with a credential not about to die", () =>
    fc.assert(
      fc.property(history, (before) => {
        const recovered = [...before, ...[...Array(policy.windowSize)].map(() => sample("ok", 50))]
        const result = assess(inputs(recovered))
        assert.strictEqual(result.status, "healthy")
        assert.strictEqual(result.consecutiveFailures, 0)
      })
    ))

  it("no transition without a change of inputs", () =>
    fc.assert(
      fc.property(history, connectionStatus, credential, (samples, status, clock) => {
        const same = inputs(samples, { connectionStatus: status, credential: clock })
        assert.isNull(transitionOf(assess(same).status, assess(same)))
      })
    ))

  it("only what the window holds counts: older checks never change the status", () =>
    fc.assert(
      fc.property(history, fc.array(anySample, { minLength: policy.windowSize, maxLength: 40 }), (older, recent) => {
        const window = recent.slice(-policy.windowSize)
        assert.deepStrictEqual(assess(inputs([...older, ...window])).status, assess(inputs(window)).status)
      })
    ))

  it("a connection whose newest check failed is never healthy", () =>
    fc.assert(
      fc.property(
        history,
        outcome.filter((o) => o !== "ok"),
        credential,
        (samples, failed, clock) => {
          const result = assess(inputs([...samples, sample(failed)], { credential: clock }))
          assert.notStrictEqual(result.status, "healthy")
        }
      )
    ))

  it("enough failures in a row are unhealthy unless something more specific applies", () =>
    fc.assert(
      fc.property(history, fc.constantFrom<ProbeOutcome>("server_error", "timeout", "unreachable"), (samples, f) => {
        const failing = [...samples, ...[...Array(policy.unhealthyAfter)].map(() => sample(f))]
        assert.strictEqual(assess(inputs(failing)).status, "unhealthy")
      })
    ))

  it("a transition always changes the status, and a recovery always ends healthy", () =>
    fc.assert(
      fc.property(history, history, (a, b) => {
        const from = assess(inputs(a)).status
        const t = transitionOf(from, assess(inputs(b)))
        if (t !== null) {
          assert.notStrictEqual(t.from, t.to)
          assert.strictEqual(t.recovery, t.to === "healthy")
        }
      })
    ))
})
