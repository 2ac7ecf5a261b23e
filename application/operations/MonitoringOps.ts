import { Context, Duration, Effect, Layer, Metric } from "effect"
import { Forbidden, Unprocessable } from "../../domain/Errors.ts"
import type { Principal } from "../../domain/Principal.ts"
import { type Provider, providers } from "../../domain/Provider.ts"
import { BreakerReset } from "../../ports/operations/BreakerReset.ts"
import { type DeadLetterRow, OperationsStore } from "../../ports/operations/OperationsStore.ts"
import { providerCallDuration, providerCalls } from "../Metrics.ts"
import { ProviderCalls } from "../sync/ProviderCalls.ts"
import { recordAction, scopeOf } from "./OperatorScope.ts"

/** A failure's pattern: its text with ids, numbers and quoted values blanked, so the same failure groups together. */
export const failurePattern = (reason: string) =>
  reason
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>")
    .replace(/"[^"]*"|'[^']*'/g, "<value>")
    .replace(/\b[a-z]+_[A-Za-z0-9]{8,}\b/g, "<id>")
    .replace(/\d+/g, "#")
    .slice(0, 200)

/** The value under which `fraction` of a histogram's observations fall, read from its cumulative buckets. */
export const quantileOf = (buckets: ReadonlyArray<readonly [number, number]>, count: number, fraction: number) => {
  if (count === 0) return null
  const rank = fraction * count
  for (const [boundary, cumulative] of buckets) if (cumulative >= rank) return boundary
  return null
}

const deadLetterLimit = 10_000

/**
 * The monitoring routes beyond liveness and readiness: provider call performance, the dead letters (with those
 * marked for review apart), and the sync's circuit breakers with their reset. Same scopes as the admin routes.
 */
export class MonitoringOps extends Context.Service<MonitoringOps>()(
  "integration-service/application/operations/MonitoringOps",
  {
    make: Effect.gen(function* () {
      const store = yield* OperationsStore
      const calls = yield* ProviderCalls
      const resetter = yield* BreakerReset

      /**
       * Per provider × operation: calls, success rate and p50/p95/p99 (bucket upper bounds, in milliseconds) from
       * the process's `provider_call_duration_seconds` histogram; the slowest operations by p95. These instruments
       * carry no tenant, so the figures are this process's provider calls, for an admin too.
       */
      const performance = Effect.fn("MonitoringOps.performance")(function* (principal: Principal) {
        yield* scopeOf(principal)
        const snapshots = yield* Metric.snapshot
        const rows = new Map<
          string,
          {
            provider: string
            operation: string
            calls: number
            ok: number
            buckets: Map<number, number>
            sum: number
            max: number
          }
        >()
        for (const s of snapshots) {
          if (s.id !== providerCallDuration.id || s.type !== "Histogram") continue
          const a = (s.attributes ?? {}) as Record<string, string>
          const key = `${a.provider}|${a.operation}`
          const row = rows.get(key) ?? {
            provider: a.provider ?? "",
            operation: a.operation ?? "",
            calls: 0,
            ok: 0,
            buckets: new Map(),
            sum: 0,
            max: 0
          }
          row.calls += s.state.count
          if (a.outcome === "success") row.ok += s.state.count
          row.sum += s.state.sum
          row.max = Math.max(row.max, s.state.count === 0 ? 0 : s.state.max)
          for (const [b, c] of s.state.buckets) row.buckets.set(b, (row.buckets.get(b) ?? 0) + c)
          rows.set(key, row)
        }
        const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000 * 100) / 100)
        const operations = [...rows.values()]
          .filter((r) => r.calls > 0)
          .map((r) => {
            const buckets = [...r.buckets].sort(([x], [y]) => x - y)
            return {
              provider: r.provider,
              operation: r.operation,
              calls: r.calls,
              successRate: r.ok / r.calls,
              p50Ms: ms(quantileOf(buckets, r.calls, 0.5)),
              p95Ms: ms(quantileOf(buckets, r.calls, 0.95)),
              p99Ms: ms(quantileOf(buckets, r.calls, 0.99)),
              meanMs: ms(r.sum / r.calls),
              maxMs: ms(r.max)
            }
          })
          .sort((a, b) => a.provider.localeCompare(b.provider) || a.operation.localeCompare(b.operation))
        const slowest = [...operations]
          .sort((a, b) => (b.p95Ms ?? 0) - (a.p95Ms ?? 0) || b.maxMs! - a.maxMs!)
          .slice(0, 5)
        return { source: providerCalls.id, operations, slowest }
      })

      const dlq = Effect.fn("MonitoringOps.dlq")(function* (principal: Principal) {
        const rows = yield* store.deadLetters(yield* scopeOf(principal), deadLetterLimit)
        const count = <K extends object>(keyOf: (r: DeadLetterRow) => K) => {
          const groups = new Map<string, K & { count: number }>()
          for (const r of rows) {
            const key = keyOf(r)
            const id = JSON.stringify(key)
            const group = groups.get(id) ?? { ...key, count: 0 }
            group.count++
            groups.set(id, group)
          }
          return [...groups.values()].sort((a, b) => b.count - a.count)
        }
        const open = rows.filter((r) => r.review === null)
        return {
          total: rows.length,
          byProvider: count((r) => ({ kind: r.kind, provider: r.provider })),
          byReason: count((r) => ({ kind: r.kind, provider: r.provider, reason: r.reason })),
          topPatterns: count((r) => ({ kind: r.kind, pattern: failurePattern(r.reason) })).slice(0, 10),
          deadLetters: open.slice(0, 100).map(({ review: _, ...r }) => r),
          underReview: rows
            .filter((r) => r.review !== null)
            .map(({ review, ...r }) => ({ ...r, note: review!.note, reviewedBy: review!.by, reviewedAt: review!.at }))
        }
      })

      const review = Effect.fn("MonitoringOps.review")(function* (
        principal: Principal,
        input: { readonly kind: "sync" | "webhook"; readonly id: string; readonly note: string }
      ) {
        const scope = yield* scopeOf(principal)
        const found = (yield* store.deadLetters(scope, deadLetterLimit)).find(
          (r) => r.kind === input.kind && r.id === input.id
        )
        if (found === undefined)
          return yield* new Unprocessable({ field: "id", message: `no dead ${input.kind} letter ${input.id}` })
        const by = `${principal.role}:${principal.userId}`
        yield* store.review(found.tenantId, input.kind, input.id, input.note, by)
        yield* recordAction(store, principal, scope, "dlq-review", input, { tenantId: found.tenantId })
        return { ...input, tenantId: found.tenantId, provider: found.provider, reviewedBy: by }
      })

      const stateOf = Effect.fnUntraced(function* (name: string) {
        const state = yield* calls
          .breakerState(name)
          .pipe(Effect.catch(() => Effect.succeed({ _tag: "Unknown" as const, key: name })))
        return {
          state: ({ Closed: "closed", Open: "open", HalfOpen: "half_open", Unknown: "unknown" } as const)[state._tag],
          retryAfterSeconds: state._tag === "Open" ? Duration.toMillis(state.retryAfter) / 1000 : null,
          consecutiveOpenings: "consecutiveOpenings" in state ? state.consecutiveOpenings : 0
        }
      })

      /**
       * The sync's breakers: one per provider (shared by every tenant: an outage) and one per connection. Every
       * provider breaker is listed; of the connections' breakers, those not closed.
       */
      const breakers = Effect.fn("MonitoringOps.breakers")(function* (principal: Principal) {
        const scope = yield* scopeOf(principal)
        const providerBreakers = yield* Effect.forEach(providers, (provider) =>
          Effect.map(stateOf(`provider:${provider}`), (s) => ({
            name: `provider:${provider}`,
            scope: "provider" as const,
            provider,
            tenantId: null,
            venueId: null,
            ...s
          }))
        )
        const venues = yield* store.venues(scope, { limit: deadLetterLimit })
        const connectionBreakers = yield* Effect.forEach(
          venues,
          (v) =>
            Effect.map(stateOf(`connection:${v.connectionId}`), (s) => ({
              name: `connection:${v.connectionId}`,
              scope: "connection" as const,
              provider: v.provider,
              tenantId: v.tenantId as string | null,
              venueId: v.venueId as string | null,
              ...s
            })),
          { concurrency: 16 }
        )
        return [...providerBreakers, ...connectionBreakers.filter((b) => b.state !== "closed")]
      })

      /** Closes a breaker now. A provider's breaker is every tenant's, so only an operator resets it. */
      const reset = Effect.fn("MonitoringOps.reset")(function* (principal: Principal, name: string) {
        const scope = yield* scopeOf(principal)
        const [kind, id] = name.split(":", 2) as [string, string | undefined]
        let provider: Provider
        if (kind === "provider" && providers.includes(id as Provider)) {
          if (scope._tag !== "all")
            return yield* new Forbidden({
              message: "a provider's breaker is shared by every tenant; operators reset it"
            })
          provider = id as Provider
        } else if (kind === "connection" && id !== undefined) {
          const venue = (yield* store.venues(scope, { limit: deadLetterLimit })).find((v) => v.connectionId === id)
          if (venue === undefined)
            return yield* new Unprocessable({ field: "name", message: `no connection ${id} here` })
          provider = venue.provider
        } else {
          return yield* new Unprocessable({
            field: "name",
            message: "a breaker is named provider:<provider> or connection:<connection id>"
          })
        }
        const before = yield* stateOf(name)
        yield* resetter.reset(name)
        const after = yield* stateOf(name)
        yield* recordAction(
          store,
          principal,
          scope,
          "circuit-breaker-reset",
          { name },
          { before: before.state, after: after.state }
        )
        return { name, provider, previous: before.state, ...after }
      })

      /**
       * Each provider account's call budget and this process's use of it (calls made, time waited for the budget,
       * 429s met), for the accounts of the caller's connections: an operator sees every account.
       */
      const budgetUse = Effect.fn("MonitoringOps.budgetUse")(function* (principal: Principal) {
        const scope = yield* scopeOf(principal)
        const all = calls.budgetUse()
        if (scope._tag === "all") return all
        const own = new Set((yield* store.venues(scope, { limit: deadLetterLimit })).map((v) => v.connectionId))
        return all
          .map((b) => ({ ...b, connectionIds: b.connectionIds.filter((id) => own.has(id)) }))
          .filter((b) => b.connectionIds.length > 0)
      })

      return { performance, dlq, review, breakers, reset, budgetUse }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
