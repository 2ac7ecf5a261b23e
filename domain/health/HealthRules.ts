import { Duration, Schema } from "effect"
import type { ConnectionStatus } from "../Connection.ts"
import type { Provider } from "../Provider.ts"

/** What the health monitor says about a connection; the order is from best to worst for the same cause. */
export const HealthState = Schema.Literals([
  "healthy",
  "degraded",
  "unhealthy",
  "rate_limited",
  "needs_reauth",
  "disconnected"
])
export type HealthState = typeof HealthState.Type

/** How one probe of the provider ended, by class: only these reach the rules, never a provider's text. */
export const ProbeOutcome = Schema.Literals([
  "ok",
  "auth_refused",
  "rate_limited",
  "server_error",
  "timeout",
  "unreachable",
  "client_error"
])
export type ProbeOutcome = typeof ProbeOutcome.Type

/** A failure that says the provider (not the venue's credential) is in trouble: what a provider outage is made of. */
export const isProviderFailure = (outcome: ProbeOutcome): boolean =>
  outcome === "server_error" || outcome === "timeout" || outcome === "unreachable"

export interface HealthSample {
  readonly outcome: ProbeOutcome
  readonly latencyMs: number
  readonly at: Date
}

/** The clock of a connection's credential, as far as expiry is concerned (API keys have none). */
export interface CredentialClock {
  readonly provider: Provider
  /** When the venue authorized: QuickBooks' 5-year limit counts from here. */
  readonly authorizedAt: Date | null
  readonly accessTokenExpiresAt: Date | null
  readonly refreshTokenExpiresAt: Date | null
  readonly hasRefreshToken: boolean
}

export const HealthReason = Schema.Literals([
  "disconnected",
  "needs_reauth",
  "credential_refused",
  "credential_expired",
  "credential_expiring",
  "rate_limited",
  "consecutive_failures",
  "error_rate",
  "slow"
])
export type HealthReason = typeof HealthReason.Type

export interface HealthPolicy {
  /** How many of the most recent checks the rates and the percentile look at. */
  readonly windowSize: number
  /** Failures in a row from which a connection is unhealthy (one already makes it degraded). */
  readonly unhealthyAfter: number
  /** A share of failed checks in the window from which a connection is degraded… */
  readonly degradedErrorRate: number
  /** …once the window holds at least this many checks. */
  readonly minSamplesForRates: number
  /** p95 latency of successful checks above which a connection is degraded (same minimum of samples). */
  readonly slowP95Ms: number
  /** How long before a credential dies that it is reported. */
  readonly expiryWarning: {
    /** QuickBooks' rolling refresh token (~100 idle days): the refresher renews 14 days ahead, so this means it failed. */
    readonly quickbooksIdle: Duration.Duration
    /** QuickBooks' 5-year limit cannot be renewed: the venue must authorize again, so warn well ahead. */
    readonly quickbooksHardLimit: Duration.Duration
    /** Square's 30-day access token: renewed at 7 days of age, so a week left means three weeks of failed renewals. */
    readonly square: Duration.Duration
  }
}

export const defaultHealthPolicy: HealthPolicy = {
  windowSize: 20,
  unhealthyAfter: 3,
  degradedErrorRate: 0.25,
  minSamplesForRates: 4,
  slowP95Ms: 5_000,
  expiryWarning: {
    quickbooksIdle: Duration.days(7),
    quickbooksHardLimit: Duration.days(30),
    square: Duration.days(7)
  }
}

/** Intuit ends a QuickBooks authorization five years after the venue gave it, refreshes or not. */
export const quickbooksHardLimit = Duration.days(5 * 365)

export type ExpiryKind = "refresh_token_idle" | "refresh_token_hard_limit" | "access_token"

export interface CredentialExpiry {
  readonly kind: ExpiryKind
  readonly at: Date
  /** From when on it is reported. */
  readonly warnFrom: Date
}

const minus = (at: Date, d: Duration.Duration) => new Date(at.getTime() - Duration.toMillis(d))

/**
 * The deadline of a credential that the service cannot push back by itself in time, earliest warning first:
 * QuickBooks' refresh token (idle expiry, and the 5-year limit), Square's access token. Mailchimp tokens and
 * Stripe keys do not expire.
 */
export const credentialExpiry = (clock: CredentialClock, policy: HealthPolicy): CredentialExpiry | null => {
  const candidates: Array<CredentialExpiry> = []
  const warn = policy.expiryWarning
  if (clock.provider === "quickbooks") {
    if (clock.refreshTokenExpiresAt !== null)
      candidates.push({
        kind: "refresh_token_idle",
        at: clock.refreshTokenExpiresAt,
        warnFrom: minus(clock.refreshTokenExpiresAt, warn.quickbooksIdle)
      })
    if (clock.authorizedAt !== null) {
      const at = new Date(clock.authorizedAt.getTime() + Duration.toMillis(quickbooksHardLimit))
      candidates.push({ kind: "refresh_token_hard_limit", at, warnFrom: minus(at, warn.quickbooksHardLimit) })
    }
  }
  if (clock.provider === "square" && clock.accessTokenExpiresAt !== null)
    candidates.push({
      kind: "access_token",
      at: clock.accessTokenExpiresAt,
      warnFrom: minus(clock.accessTokenExpiresAt, warn.square)
    })
  return candidates.reduce<CredentialExpiry | null>(
    (first, c) => (first === null || c.warnFrom.getTime() < first.warnFrom.getTime() ? c : first),
    null
  )
}

export interface HealthInputs {
  readonly connectionStatus: ConnectionStatus
  /** The connection's recent checks, oldest first; only the last `windowSize` count. */
  readonly samples: ReadonlyArray<HealthSample>
  readonly credential: CredentialClock | null
  readonly now: Date
}

export interface HealthAssessment {
  readonly status: HealthState
  readonly reasons: ReadonlyArray<HealthReason>
  readonly consecutiveFailures: number
  /** Failed share of the window (rate-limited checks are neither), null below the minimum of samples. */
  readonly errorRate: number | null
  readonly p95LatencyMs: number | null
  readonly credentialExpiresAt: Date | null
}

/** Nearest-rank percentile of a non-empty list. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

/** Trailing failures up to the last success; a 429 is the provider pacing us, not a failure, and is skipped. */
const trailingFailures = (samples: ReadonlyArray<HealthSample>): number => {
  let n = 0
  for (let i = samples.length - 1; i >= 0; i--) {
    const outcome = (samples[i] as HealthSample).outcome
    if (outcome === "ok") break
    if (outcome !== "rate_limited") n++
  }
  return n
}

/**
 * The status of a connection from what is known now. Precedence: the connection's own state (disconnected,
 * needs_reauth), a refused or expired credential, the provider pacing us (the newest check a 429), failures in a
 * row (unhealthy), then anything that makes it degraded (a failure, the error rate, p95 latency, a credential
 * about to die). A function of its inputs alone.
 */
export const assess = (inputs: HealthInputs, policy: HealthPolicy = defaultHealthPolicy): HealthAssessment => {
  const window = inputs.samples.slice(-policy.windowSize)
  const consecutiveFailures = trailingFailures(window)
  const counted = window.filter((s) => s.outcome !== "rate_limited")
  const errorRate =
    counted.length >= policy.minSamplesForRates
      ? counted.filter((s) => s.outcome !== "ok").length / counted.length
      : null
  const okLatencies = window.filter((s) => s.outcome === "ok").map((s) => s.latencyMs)
  const p95LatencyMs = okLatencies.length >= policy.minSamplesForRates ? percentile(okLatencies, 95) : null
  const expiry = inputs.credential === null ? null : credentialExpiry(inputs.credential, policy)
  const now = inputs.now.getTime()
  const newest = window[window.length - 1]

  const result = (status: HealthState, reasons: ReadonlyArray<HealthReason>): HealthAssessment => ({
    status,
    reasons,
    consecutiveFailures,
    errorRate,
    p95LatencyMs,
    credentialExpiresAt: expiry?.at ?? null
  })

  if (inputs.connectionStatus === "disconnected") return result("disconnected", ["disconnected"])
  if (inputs.connectionStatus === "needs_reauth") return result("needs_reauth", ["needs_reauth"])
  if (newest?.outcome === "auth_refused") return result("needs_reauth", ["credential_refused"])
  if (expiry !== null && expiry.at.getTime() <= now) return result("needs_reauth", ["credential_expired"])
  if (newest?.outcome === "rate_limited") return result("rate_limited", ["rate_limited"])
  if (consecutiveFailures >= policy.unhealthyAfter) return result("unhealthy", ["consecutive_failures"])

  const reasons: Array<HealthReason> = []
  if (consecutiveFailures > 0) reasons.push("consecutive_failures")
  if (errorRate !== null && errorRate >= policy.degradedErrorRate) reasons.push("error_rate")
  if (p95LatencyMs !== null && p95LatencyMs > policy.slowP95Ms) reasons.push("slow")
  if (expiry !== null && expiry.warnFrom.getTime() <= now) reasons.push("credential_expiring")
  return reasons.length > 0 ? result("degraded", reasons) : result("healthy", [])
}

/** A change of status: the event every notification is made of. */
export interface HealthTransition {
  readonly from: HealthState | null
  readonly to: HealthState
  readonly reasons: ReadonlyArray<HealthReason>
  /** Towards healthy: a recovery, notified like a failure. */
  readonly recovery: boolean
}

/** The transition from `previous` (null: never assessed) to `next`, or null when the status stays. */
export const transitionOf = (previous: HealthState | null, next: HealthAssessment): HealthTransition | null =>
  previous === next.status || (previous === null && next.status === "healthy")
    ? null
    : { from: previous, to: next.status, reasons: next.reasons, recovery: next.status === "healthy" }

/** How the provider's connections fared in the window: the latest check of each connection checked in it. */
export interface ProviderWindow {
  readonly connections: number
  readonly failing: number
}

export interface OutagePolicy {
  /** Fewer connections checked than this never make an outage: one venue's trouble is its own. */
  readonly minConnections: number
  /** The share of connections whose latest check failed on the provider's side. */
  readonly failingShare: number
}

export const defaultOutagePolicy: OutagePolicy = { minConnections: 3, failingShare: 0.5 }

/** Most connections of a provider failing on the provider's side together: an outage of the provider. */
export const isProviderOutage = (window: ProviderWindow, policy: OutagePolicy = defaultOutagePolicy): boolean =>
  window.connections >= policy.minConnections && window.failing / window.connections >= policy.failingShare
