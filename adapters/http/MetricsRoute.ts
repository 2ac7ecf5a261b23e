/**
 * `GET /metrics`: every Effect metric of the process (application/Metrics.ts and the rest) in the Prometheus text
 * exposition format, rendered by Effect's own `PrometheusMetrics`. A raw route, outside the HttpApi: a scraper sends
 * no JWT and wants text, not JSON.
 *
 * Not public: the counters describe the whole service (traffic, providers, failures). Allowed are the bearer token
 * `METRICS_TOKEN` (what a Prometheus scrape config sends; compared in constant time) and, for people, an `admin`
 * JWT, as for the deep health check. Anything else is `401`, a valid JWT of another role `403`.
 */
import { Config, Effect, Option, Redacted } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { stringsEqual } from "../webhook/ConstantTime.ts"

export const metricsPath = "/metrics"

/** Blank counts as unset, so an empty bearer can never match. */
export const MetricsTokenConfig = Config.option(Config.Redacted("METRICS_TOKEN")).pipe(
  Config.map(Option.filter((token) => Redacted.value(token).trim() !== ""))
)

const refused = (status: 401 | 403, code: string, message: string) =>
  HttpServerResponse.jsonUnsafe(
    { _tag: status === 401 ? "Unauthorized" : "Forbidden", code, message, field: "authorization" },
    { status, headers: status === 401 ? { "www-authenticate": 'Bearer realm="metrics"' } : {} }
  )

const bearerOf = (header: string | undefined) => {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match === null ? undefined : match[1]
}

export const MetricsRoute = HttpRouter.use((router) =>
  Effect.gen(function* () {
    const verifier = yield* TokenVerifier
    const metricsToken = yield* MetricsTokenConfig

    const admitted = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const bearer = bearerOf(request.headers.authorization)
        if (bearer === undefined) {
          return refused(401, "MissingToken", "send a bearer token: Authorization: Bearer <METRICS_TOKEN or admin JWT>")
        }
        if (Option.isSome(metricsToken) && stringsEqual(bearer, Redacted.value(metricsToken.value))) return undefined
        const principal = yield* Effect.result(verifier.verify(Redacted.make(bearer)))
        if (principal._tag === "Failure") return refused(401, "InvalidToken", "not METRICS_TOKEN nor a valid JWT")
        if (principal.success.role !== "admin") {
          return refused(403, "Forbidden", `role ${principal.success.role} may not read metrics; they are for admins`)
        }
        return undefined
      })

    yield* router.add("GET", metricsPath, (request) =>
      Effect.gen(function* () {
        const refusal = yield* admitted(request)
        if (refusal !== undefined) return refusal
        return HttpServerResponse.text(yield* PrometheusMetrics.format(), {
          contentType: "text/plain; version=0.0.4; charset=utf-8"
        })
      })
    )
  })
)
