import { Clock, Config, Context, Data, Duration, Effect, Layer, Option, Schedule } from "effect"
import type { Connection, ConnectionStatus } from "../../domain/Connection.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { HealthCheck } from "../../domain/Health.ts"
import {
  assess,
  type CredentialClock,
  credentialExpiry,
  defaultHealthPolicy,
  type HealthSample,
  type HealthState,
  isProviderFailure,
  isProviderOutage,
  type ProbeOutcome,
  transitionOf
} from "../../domain/health/HealthRules.ts"
import { authTypeOf, type Provider, providers } from "../../domain/Provider.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import type { IntegrationEvent } from "../../ports/EventPublisher.ts"
import { HealthProbe, type ProbeCredential, type ProbeResult } from "../../ports/operations/HealthProbe.ts"
import {
  type DueCheck,
  type HealthDecision,
  type HealthRecord,
  HealthStore,
  type ProviderStatus
} from "../../ports/operations/HealthStore.ts"
import { TokenStore } from "../../ports/TokenStore.ts"
import { NeedsReauth } from "../NeedsReauth.ts"
import { ProviderCalls } from "../sync/ProviderCalls.ts"
import { TokenVault } from "../TokenVault.ts"

/** One connection's check: the sample taken (none when the connection is not probed) and what was decided. */
export interface CheckReport {
  readonly due: DueCheck
  readonly probe: ProbeResult | null
  readonly decision: HealthDecision
}

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const failed = (outcome: ProbeResult["outcome"], detail: string): ProbeResult => ({ outcome, latencyMs: 0, detail })

/**
 * A probe that did not answer ok, as a failure of the call through ProviderCalls: `kind` and `status` say its class
 * the way the adapters' `ProviderCallFailed` does, so the call ledger counts it as 4xx, 429, 5xx or timeout. Not
 * being a `ProviderCallFailed`, it is never retried, paused on or counted by a breaker: a health check observes.
 */
class ProbeFailed extends Data.TaggedError("ProbeFailed")<{
  readonly result: ProbeResult
  readonly kind: "rejected" | "rate_limited" | "unavailable"
  readonly status: number | null
}> {}

const failureClass: Record<Exclude<ProbeOutcome, "ok">, Pick<ProbeFailed, "kind" | "status">> = {
  auth_refused: { kind: "rejected", status: 401 },
  client_error: { kind: "rejected", status: 400 },
  rate_limited: { kind: "rate_limited", status: 429 },
  server_error: { kind: "unavailable", status: 500 },
  timeout: { kind: "unavailable", status: null },
  unreachable: { kind: "unavailable", status: null }
}

/**
 * The periodic health check of every connection, each at its own offset in `HEALTH_CHECK_INTERVAL` (default
 * 5 minutes; `HealthStore.claimDue` hands each due connection to one process). A check is the provider's cheapest
 * call with the connection's own credential (an OAuth access token comes from the TokenVault, refreshed when due),
 * judged by the pure rules with the window of recent checks and the credential's expiry ahead (an expired one is
 * needs_reauth through NeedsReauth). A status that
 * differs from the last notified one is published as `connection.health_changed` with the new status, in the same
 * transaction; `needs_reauth` is published by NeedsReauth instead (once, whichever path found it). While most of a
 * provider's connections fail together the provider is in outage: one notification for the provider, and its
 * connections' failures on the provider's side are not notified one by one (those outlasting it are, after).
 *
 * Each probe goes through ProviderCalls.call, so it waits for and spends the account's budget like a sync call and
 * is in the call ledger as `health_check`. What that costs: one call per connection per interval. The tightest
 * default budget is QuickBooks' 500 calls a minute per realm, 2,500 per 5-minute interval, so one connection's
 * check is 0.04 % of it and ≤ 1 % holds up to 25 connections on one realm (Square 10/s: 30 on one merchant; Stripe
 * 25/s: 75; Mailchimp 50/s: 150). A venue's connection is usually its account's only one. A shorter interval or a
 * smaller budget that breaks 1 % at one connection per account is logged as a warning at start.
 */
export class HealthMonitor extends Context.Service<HealthMonitor>()(
  "integration-service/application/operations/HealthMonitor",
  {
    make: Effect.gen(function* () {
      const health = yield* HealthStore
      const probe = yield* HealthProbe
      const connections = yield* ConnectionStore
      const vault = yield* CredentialVault
      const tokens = yield* TokenStore
      const tokenVault = yield* TokenVault
      const reauth = yield* NeedsReauth
      const calls = yield* ProviderCalls
      const interval = yield* Config.Duration("HEALTH_CHECK_INTERVAL").pipe(Config.withDefault(Duration.minutes(5)))
      const batch = yield* Config.Int("HEALTH_CHECK_BATCH").pipe(Config.withDefault(50))
      const policy = defaultHealthPolicy

      for (const provider of providers) {
        const budget = calls.budgets[provider]
        const share = budget.windowMillis / (budget.limit * Duration.toMillis(interval))
        if (share > 0.01)
          yield* Effect.logWarning("health checks would use more than 1 % of an account's budget").pipe(
            Effect.annotateLogs({ provider, "budget.share": share.toFixed(4) })
          )
      }

      /**
       * The cheapest call, through the account's budget and into the call ledger. `null`: not made, because a
       * breaker of the connection or provider is open or the account keeps answering 429 (the sync saw it first).
       */
      const probed = (connection: Connection, credential: ProbeCredential) =>
        calls
          .call(
            {
              provider: connection.provider,
              account: connection.accountId ?? connection.id,
              connectionId: connection.id
            },
            "health_check",
            probe
              .probe(connection.provider, credential)
              .pipe(
                Effect.flatMap((result) =>
                  result.outcome === "ok"
                    ? Effect.succeed<ProbeResult | null>(result)
                    : Effect.fail(new ProbeFailed({ result, ...failureClass[result.outcome] }))
                )
              )
          )
          .pipe(
            Effect.catchTags({
              ProbeFailed: (e) => Effect.succeed(e.result),
              CallDelayed: (e) =>
                Effect.logInfo("health check not made").pipe(
                  Effect.annotateLogs({ "connection.id": connection.id, reason: e.reason }),
                  Effect.as(null)
                )
            })
          )

      /** The credential to probe with, or the sample that says why there is none to use. */
      const credentialFor = Effect.fnUntraced(function* (connection: Connection) {
        if (authTypeOf(connection.provider) === "api_key") {
          const place = new SecretPlace({ ...connection, field: "api_key" })
          const sealed = yield* connections.secret(place)
          if (Option.isNone(sealed)) return failed("auth_refused", "no stored API key; connect again")
          return { _tag: "ApiKey", apiKey: yield* vault.open(place, sealed.value) } satisfies ProbeCredential
        }
        return yield* tokenVault.accessToken({ tenantId: connection.tenantId, id: connection.id }).pipe(
          Effect.map((token): ProbeCredential | ProbeResult => ({
            _tag: "AccessToken",
            accessToken: token.token,
            accountId: connection.accountId,
            extra: token.extra
          })),
          Effect.catchTags({
            // The vault has already marked it needs_reauth and published that.
            ReauthorizationRequired: (e) => Effect.succeed(failed("auth_refused", e.reason)),
            TokensMissing: () => Effect.succeed(failed("auth_refused", "no stored tokens; connect again")),
            ProviderUnavailable: (e) =>
              Effect.succeed(failed(e.retryable ? "server_error" : "client_error", `token refresh: ${e.message}`))
          })
        )
      })

      const credentialClock = Effect.fnUntraced(function* (connection: Connection) {
        if (authTypeOf(connection.provider) !== "oauth2") return null
        const stored = yield* tokens.read(connection.tenantId, connection.id)
        return Option.match(stored, {
          onNone: () => null,
          onSome: ({ lifecycle }): CredentialClock => ({
            provider: connection.provider,
            authorizedAt: connection.connectedAt,
            accessTokenExpiresAt: lifecycle.expiresAt,
            refreshTokenExpiresAt: lifecycle.refreshTokenExpiresAt,
            hasRefreshToken: lifecycle.hasRefreshToken
          })
        })
      })

      /** The pure part: the assessment, the record to keep and the event to publish, if any. */
      const decide =
        (
          due: DueCheck,
          connectionStatus: ConnectionStatus,
          credential: CredentialClock | null,
          inOutage: boolean,
          at: Date
        ) =>
        (previous: Option.Option<HealthRecord>, window: ReadonlyArray<HealthSample>): HealthDecision => {
          const assessment = assess({ connectionStatus, samples: window, credential, now: at }, policy)
          const before = Option.getOrNull(previous)
          const changed = transitionOf(before?.status ?? null, assessment) !== null
          const notified: HealthState = before?.notifiedStatus ?? "healthy"
          const newest = window[window.length - 1]
          const swallowedByOutage =
            inOutage &&
            (assessment.status === "degraded" || assessment.status === "unhealthy") &&
            newest !== undefined &&
            isProviderFailure(newest.outcome)
          const notify = assessment.status !== notified && !swallowedByOutage
          const event: IntegrationEvent | null =
            notify && !(assessment.status === "needs_reauth" && connectionStatus === "needs_reauth")
              ? {
                  id: crypto.randomUUID(),
                  tenantId: due.tenantId,
                  type: "connection.health_changed",
                  connectionId: due.connectionId,
                  payload: {
                    provider: due.provider,
                    venueId: due.venueId,
                    from: notified,
                    to: assessment.status,
                    recovery: String(assessment.status === "healthy"),
                    reasons: assessment.reasons.join(","),
                    consecutiveFailures: String(assessment.consecutiveFailures),
                    ...(assessment.errorRate === null ? {} : { errorRate: assessment.errorRate.toFixed(3) }),
                    ...(assessment.p95LatencyMs === null ? {} : { p95LatencyMs: String(assessment.p95LatencyMs) }),
                    ...(assessment.credentialExpiresAt === null
                      ? {}
                      : { credentialExpiresAt: assessment.credentialExpiresAt.toISOString() })
                  },
                  occurredAt: at
                }
              : null
          return {
            next: {
              status: assessment.status,
              notifiedStatus: notify ? assessment.status : (before?.notifiedStatus ?? null),
              reasons: assessment.reasons,
              consecutiveFailures: assessment.consecutiveFailures,
              errorRate: assessment.errorRate,
              p95LatencyMs: assessment.p95LatencyMs,
              credentialExpiresAt: assessment.credentialExpiresAt,
              since: changed || before === null ? at : before.since,
              updatedAt: at
            },
            event
          }
        }

      /** Checks one connection now (the monitor's loop, or a caller who wants an answer at once). */
      const check = Effect.fn("HealthMonitor.check")(function* (due: DueCheck) {
        yield* Effect.annotateCurrentSpan({ "connection.id": due.connectionId, provider: due.provider })
        const found = yield* connections.find(due.tenantId, due.venueId, due.provider)
        if (Option.isNone(found) || found.value.id !== due.connectionId) return Option.none<CheckReport>()
        const connection = found.value
        let status = connection.status
        let result: ProbeResult | null = null
        // A connection waiting for the venue is not called: its state alone decides.
        if (status !== "disconnected" && status !== "needs_reauth") {
          const credential = yield* credentialFor(connection)
          result = "_tag" in credential ? yield* probed(connection, credential) : credential
          if (result?.outcome === "auth_refused") {
            yield* reauth.mark(
              { ...connection, connectionId: connection.id },
              {
                code: "credential_refused",
                message: result.detail ?? "the provider refused the credential",
                source: "health_check"
              }
            )
            status = "needs_reauth"
          }
        }
        const at = yield* now
        if (result !== null)
          yield* connections.recordHealth(
            new HealthCheck({
              tenantId: due.tenantId,
              connectionId: due.connectionId,
              ok: result.outcome === "ok",
              latencyMs: result.latencyMs,
              error: result.detail,
              checkedAt: at
            })
          )
        const credential = yield* credentialClock(connection)
        const expiry = credential === null ? null : credentialExpiry(credential, policy)
        if (expiry !== null && expiry.at.getTime() <= at.getTime() && status !== "disconnected") {
          yield* reauth.mark(
            { ...connection, status, connectionId: connection.id },
            {
              code: "credential_expired",
              message: `the ${expiry.kind.replaceAll("_", " ")} expired; connect again`,
              source: "health_check"
            }
          )
          status = "needs_reauth"
        }
        const inOutage = (yield* health.providerStatuses()).get(due.provider) === "outage"
        const sample: HealthSample | null =
          result === null ? null : { outcome: result.outcome, latencyMs: result.latencyMs, at }
        const decision = yield* health.record(
          due,
          sample,
          policy.windowSize,
          decide(due, status, credential, inOutage, at)
        )
        if (decision.event !== null)
          yield* Effect.logInfo("connection health changed").pipe(
            Effect.annotateLogs({
              "connection.id": due.connectionId,
              provider: due.provider,
              from: decision.event.payload.from,
              to: decision.next.status
            })
          )
        return Option.some<CheckReport>({ due, probe: result, decision })
      })

      /** The provider-level view over the last interval: an outage starts or ends once, for the provider. */
      const providerView = Effect.fn("HealthMonitor.providerView")(function* () {
        const at = yield* now
        const since = new Date(at.getTime() - Math.max(Duration.toMillis(interval), 60_000))
        const counts = yield* health.providerWindow(since)
        const statuses = yield* health.providerStatuses()
        const changes: Array<{ provider: Provider; status: ProviderStatus }> = []
        for (const c of counts) {
          const status: ProviderStatus = isProviderOutage(c) ? "outage" : "operational"
          if ((statuses.get(c.provider) ?? "operational") === status) continue
          const id = crypto.randomUUID()
          const type = status === "outage" ? "provider.outage_started" : "provider.outage_ended"
          const body = JSON.stringify({
            type,
            timestamp: at.toISOString(),
            data: { eventId: id, provider: c.provider, connections: c.connections, failing: c.failing }
          })
          if (yield* health.setProviderStatus(c.provider, status, { id, type, body })) {
            changes.push({ provider: c.provider, status })
            yield* Effect.logWarning(`provider ${status}`).pipe(
              Effect.annotateLogs({ provider: c.provider, connections: c.connections, failing: c.failing })
            )
          }
        }
        return changes
      })

      /** One round: every connection due now (up to the batch), then the provider view. */
      const checkDue = Effect.fn("HealthMonitor.checkDue")(function* () {
        const due = yield* health.claimDue(Duration.toMillis(interval), batch)
        const reports = yield* Effect.forEach(
          due,
          (d) =>
            check(d).pipe(
              Effect.catchCause((cause) =>
                Effect.logWarning("health check failed", cause).pipe(
                  Effect.annotateLogs({ "connection.id": d.connectionId }),
                  Effect.as(Option.none<CheckReport>())
                )
              )
            ),
          { concurrency: 4 }
        )
        const outages = due.length === 0 ? [] : yield* providerView()
        yield* Effect.annotateCurrentSpan({ "health.due": due.length })
        return { checked: reports.filter(Option.isSome).map((r) => r.value), outages }
      })

      return { check, checkDue, providerView }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}

/**
 * The monitor as a background fiber: every `HEALTH_CHECK_TICK` (default 5 seconds) it checks what is due, so
 * each connection is checked about once per interval, at its own offset. A failed round is logged.
 */
export const HealthMonitorFiber = Layer.effectDiscard(
  Effect.gen(function* () {
    const monitor = yield* HealthMonitor
    const tick = yield* Config.Duration("HEALTH_CHECK_TICK").pipe(Config.withDefault(Duration.seconds(5)))
    yield* monitor.checkDue().pipe(
      Effect.catchCause((cause) => Effect.logError("health monitor round failed", cause)),
      Effect.repeat(Schedule.spaced(tick)),
      Effect.forkScoped
    )
  })
)
