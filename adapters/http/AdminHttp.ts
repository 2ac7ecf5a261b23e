import { Clock, Effect, Result } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Admin } from "../../application/operations/Admin.ts"
import { costRange } from "../../domain/operations/CostRange.ts"
import { Api } from "./Api.ts"
import { BadRequest, type DomainError, ServiceUnavailable, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

interface Unavailable {
  readonly _tag: "QueueUnavailable" | "InboxUnavailable"
  readonly message: string
}
const isUnavailable = (error: DomainError | Unavailable): error is Unavailable =>
  error._tag === "QueueUnavailable" || error._tag === "InboxUnavailable"

/** Domain errors as their statuses; the sync queue or the webhook inbox down as 503. */
export const opsError = (error: DomainError | Unavailable) =>
  isUnavailable(error)
    ? new ServiceUnavailable({
        code: error._tag,
        message:
          error._tag === "QueueUnavailable" ? "the sync queue is unavailable" : "the webhook inbox is unavailable"
      })
    : toHttpError(error)

export const AdminHttp = HttpApiBuilder.group(
  Api,
  "admin",
  Effect.fn(function* (handlers) {
    const admin = yield* Admin
    return handlers
      .handle("allVenues", ({ query }) =>
        CurrentPrincipal.use((p) => admin.allVenues(p, { ...query, limit: query.limit ?? 100 })).pipe(
          Effect.mapError(opsError)
        )
      )
      .handle("healthSummary", () =>
        CurrentPrincipal.use((p) => admin.healthSummary(p)).pipe(
          Effect.map((summary) => ({ summary })),
          Effect.mapError(opsError)
        )
      )
      .handle("costs", ({ query }) =>
        Effect.gen(function* () {
          const range = costRange(query, yield* Clock.currentTimeMillis)
          if (Result.isFailure(range)) return yield* new BadRequest({ code: "InvalidQuery", ...range.failure })
          return yield* CurrentPrincipal.use((p) => admin.costs(p, range.success, query.groupBy ?? "day")).pipe(
            Effect.mapError(opsError)
          )
        })
      )
      .handle("forceSync", ({ payload }) =>
        CurrentPrincipal.use((p) => admin.forceSync(p, payload)).pipe(
          Effect.map((jobs) => ({ jobs })),
          Effect.mapError(opsError)
        )
      )
      .handle("clearQueue", ({ payload }) =>
        CurrentPrincipal.use((p) => admin.clearQueue(p, payload)).pipe(Effect.mapError(opsError))
      )
      .handle("processDeadLetter", ({ payload }) =>
        CurrentPrincipal.use((p) => admin.processDeadLetters(p, payload)).pipe(Effect.mapError(opsError))
      )
      .handle("recoverStale", () => CurrentPrincipal.use((p) => admin.recoverStale(p)).pipe(Effect.mapError(opsError)))
      .handle("queueMetrics", () => CurrentPrincipal.use((p) => admin.queueMetrics(p)).pipe(Effect.mapError(opsError)))
  })
)
