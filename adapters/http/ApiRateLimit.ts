import { Config, Context, Duration, Effect, Layer } from "effect"
import { HttpEffect, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import type { TenantId } from "../../domain/Ids.ts"
import { TooManyRequests } from "./ApiErrors.ts"

const seconds = (duration: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(duration)))

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) added to whatever the request answers. */
const withHeaders = (headers: Record<string, string>) =>
  HttpEffect.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeaders(response, headers)))

/**
 * Each tenant's share of the REST API: `API_RATE_LIMIT` requests per `API_RATE_WINDOW` (default 600 a minute), a
 * token bucket in Effect's `RateLimiter` (in Redis when configured, so every process draws on one bucket). Past it,
 * 429 with `Retry-After`. Should the limiter's store fail, the request is admitted: an outage of Redis must not
 * become an outage of the API.
 */
export class ApiRateLimit extends Context.Service<
  ApiRateLimit,
  {
    readonly admit: (tenantId: TenantId) => Effect.Effect<void, TooManyRequests, HttpServerRequest.HttpServerRequest>
  }
>()("integration-service/http/ApiRateLimit") {
  static readonly layer = Layer.effect(
    ApiRateLimit,
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.RateLimiter
      const limit = yield* Config.Int("API_RATE_LIMIT").pipe(Config.withDefault(600))
      const window = yield* Config.Duration("API_RATE_WINDOW").pipe(Config.withDefault(Duration.minutes(1)))
      const admit = (tenantId: TenantId) =>
        limiter.consume({ key: `api:${tenantId}`, limit, window, algorithm: "token-bucket" }).pipe(
          Effect.matchEffect({
            onSuccess: (result) =>
              withHeaders({
                "ratelimit-limit": String(limit),
                "ratelimit-remaining": String(Math.max(0, Math.floor(result.remaining))),
                "ratelimit-reset": String(seconds(result.resetAfter))
              }),
            onFailure: (error) => {
              const reason = error.reason
              if (reason._tag === "RateLimitStoreError") {
                return Effect.logWarning("rate limiter unavailable; request admitted", reason.message)
              }
              const retryAfter = String(seconds(reason.retryAfter))
              return withHeaders({
                "retry-after": retryAfter,
                "ratelimit-limit": String(limit),
                "ratelimit-remaining": "0",
                "ratelimit-reset": retryAfter
              }).pipe(
                Effect.andThen(
                  Effect.fail(
                    new TooManyRequests({
                      code: "RateLimited",
                      message: `this tenant may make ${limit} requests per ${Duration.format(window)}; retry in ${retryAfter} s`
                    })
                  )
                )
              )
            }
          })
        )
      return ApiRateLimit.of({ admit })
    })
  )
}
