/**
 * Every request through the router, measured: `http_server_requests_total` and
 * `http_server_request_duration_seconds` by method, route template and status class, and the requests in flight
 * (application/Metrics.ts). Webhook deliveries the Node fast path answers never reach the router; they are counted
 * by `webhook_deliveries_total`.
 */
import { Clock, Context, Effect, Layer, Metric } from "effect"
import { HttpEffect, HttpRouter, HttpServerRequest } from "effect/http"
import { httpActiveRequests, recordHttpRequest } from "../../application/Metrics.ts"

/** The route template the router matched for this request, filled in by the route-level half. */
const MatchedRoute = Context.Reference<{ path: string } | undefined>("integration-service/http/MatchedRoute", {
  defaultValue: () => undefined
})

/**
 * Global: runs for every request, matched or not (a 404 is labelled `unmatched`: scanners cannot make series).
 * Recorded in a pre-response handler, which sees the status actually sent whatever the other middleware (JSON error
 * bodies, RequestContext) made of a failure.
 */
const measure = HttpRouter.middleware(
  (httpEffect) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const start = yield* Clock.currentTimeNanos
      const matched = { path: "unmatched" }
      yield* HttpEffect.appendPreResponseHandler((_, response) =>
        Effect.flatMap(Clock.currentTimeNanos, (end) =>
          recordHttpRequest(
            { method: request.method, route: matched.path, status: response.status },
            Number(end - start) / 1e9
          )
        ).pipe(Effect.as(response))
      )
      yield* Metric.modify(httpActiveRequests, 1)
      return yield* httpEffect.pipe(
        Effect.provideService(MatchedRoute, matched),
        Effect.ensuring(Metric.modify(httpActiveRequests, -1))
      )
    }),
  { global: true }
)

/** Route-level: inside the router, where the matched route is known. */
const nameRoute = HttpRouter.middleware((httpEffect) =>
  Effect.gen(function* () {
    const { route } = yield* HttpRouter.RouteContext
    const matched = yield* MatchedRoute
    if (matched !== undefined) matched.path = route.path
    return yield* httpEffect
  })
)

/** Provide to the routes (`HttpRoutes.pipe(Layer.provide(HttpMetrics.layer))`): both halves at once. */
const layer = Layer.merge(measure, nameRoute.layer)

export const HttpMetrics = { layer } as const
