/**
 * The service's instruments, as Effect metrics in the process's default registry. Code records them where things
 * happen; the exporters read that one registry: `GET /metrics` in the Prometheus text format
 * (adapters/http/MetricsRoute.ts) and OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (adapters/telemetry).
 * They live in the application layer because use cases record them too (token refreshes, provider calls of the sync
 * engine) and the application never imports adapters; an instrument names nothing about how it is exported.
 * Label values come from fixed sets (route templates, providers, outcomes), never ids or raw URLs: each distinct
 * combination is a series kept for the life of the process.
 */
import { Cause, Clock, Effect, Exit, Metric } from "effect"
import type { Provider } from "../domain/Provider.ts"

/** Prometheus' default latency buckets, in seconds. */
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export const httpRequests = Metric.counter("http_server_requests_total", {
  description: "HTTP requests answered by the router, by method, route template and status class",
  incremental: true
})

export const httpRequestDuration = Metric.histogram("http_server_request_duration_seconds", {
  description: "time from the router taking an HTTP request to its response being ready, in seconds",
  boundaries: latencyBuckets
})

export const httpActiveRequests = Metric.gauge("http_server_active_requests", {
  description: "HTTP requests the router is handling now"
})

/** 200 → `2xx`. */
export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`

/** One answered request: counted and its latency observed under the same labels. */
export const recordHttpRequest = (
  labels: { readonly method: string; readonly route: string; readonly status: number },
  seconds: number
) => {
  const attributes = { method: labels.method, route: labels.route, status_class: statusClass(labels.status) }
  return Effect.andThen(
    Metric.update(Metric.withAttributes(httpRequests, attributes), 1),
    Metric.update(Metric.withAttributes(httpRequestDuration, attributes), seconds)
  )
}

/**
 * How a webhook delivery was answered: `accepted` (new events stored), `duplicate` (all already stored),
 * `unroutable` (verified, for an account no connection has), `unauthorized` (signature or secret refused),
 * `malformed` (signed but unparseable), `rate_limited`, `unavailable` (not stored; the provider retries).
 * Received = the sum over outcomes.
 */
export type WebhookOutcome =
  | "accepted"
  | "duplicate"
  | "unroutable"
  | "unauthorized"
  | "malformed"
  | "rate_limited"
  | "unavailable"

export const webhookDeliveries = Metric.counter("webhook_deliveries_total", {
  description: "webhook deliveries received, by provider and how they were answered",
  incremental: true
})

export const webhookEvents = Metric.counter("webhook_events_total", {
  description: "events of accepted webhook deliveries, by provider and outcome: stored, duplicate, unroutable",
  incremental: true
})

/** A delivery's outcome; for an acknowledged one also its events (a QuickBooks delivery may carry several). */
export const recordWebhookDelivery = (
  provider: Provider,
  outcome: WebhookOutcome,
  events?: { readonly stored: number; readonly duplicates: number; readonly unroutable: number }
) =>
  Effect.gen(function* () {
    yield* Metric.update(Metric.withAttributes(webhookDeliveries, { provider, outcome }), 1)
    if (events === undefined) return
    const counts = { stored: events.stored, duplicate: events.duplicates, unroutable: events.unroutable }
    for (const [eventOutcome, count] of Object.entries(counts)) {
      if (count > 0)
        yield* Metric.update(Metric.withAttributes(webhookEvents, { provider, outcome: eventOutcome }), count)
    }
  })

export const tokenRefreshes = Metric.counter("oauth_token_refreshes_total", {
  description:
    "calls to a provider's token endpoint with a refresh token, by provider and outcome: success, rejected (the venue must connect again), unavailable, error",
  incremental: true
})

const refreshOutcome = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return "success"
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return "error"
  const tag = tagOf(error.value)
  return tag === "OAuthGrantRejected" ? "rejected" : tag === "ProviderUnavailable" ? "unavailable" : "error"
}

/** Around one refresh call (`OAuthProvider.refresh`): counts its outcome. An interrupted call is not counted. */
export const recordTokenRefresh =
  (provider: Provider) =>
  <A, E, R>(refresh: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.onExit(refresh, (exit) =>
      Exit.hasInterrupts(exit)
        ? Effect.void
        : Metric.update(Metric.withAttributes(tokenRefreshes, { provider, outcome: refreshOutcome(exit) }), 1)
    )

export const providerCalls = Metric.counter("provider_calls_total", {
  description: "calls to a provider's API, by provider, operation and outcome",
  incremental: true
})

export const providerCallDuration = Metric.histogram("provider_call_duration_seconds", {
  description: "duration of calls to a provider's API (what `recordProviderCall` wraps), in seconds",
  boundaries: [...latencyBuckets, 30, 60]
})

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

const snakeCase = (tag: string) => tag.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()

/**
 * `success`; for a typed failure its `kind` when it has one (`ProviderCallFailed`: `rate_limited`, `unavailable`,
 * `unauthorized`, …), else its `_tag` in snake case (`history_expired`), else `error`; `defect`; `interrupted`
 * (a timeout or shutdown outside the call).
 */
export const providerCallOutcome = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some") {
    const failure = error.value
    if (typeof failure === "object" && failure !== null && "kind" in failure && typeof failure.kind === "string")
      return failure.kind
    const tag = tagOf(failure)
    return tag === undefined ? "error" : snakeCase(tag)
  }
  return Cause.hasDies(exit.cause) ? "defect" : "interrupted"
}

/**
 * Around one logical provider call (`operation`: a fixed name such as `list_customers`, never an id): counts it by
 * outcome and observes its duration. `recordProviderCall("stripe", "list_customers")(call)`, or in a pipe.
 */
export const recordProviderCall =
  (provider: Provider, operation: string) =>
  <A, E, R>(call: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      Effect.onExit(call, (exit) =>
        Effect.flatMap(Clock.currentTimeNanos, (end) => {
          const attributes = { provider, operation, outcome: providerCallOutcome(exit) }
          return Effect.andThen(
            Metric.update(Metric.withAttributes(providerCalls, attributes), 1),
            Metric.update(Metric.withAttributes(providerCallDuration, attributes), Number(end - start) / 1e9)
          )
        })
      )
    )
