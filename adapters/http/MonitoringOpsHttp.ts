import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { MonitoringOps } from "../../application/operations/MonitoringOps.ts"
import { opsError } from "./AdminHttp.ts"
import { Api } from "./Api.ts"
import { ServiceUnavailable } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

export const MonitoringOpsHttp = HttpApiBuilder.group(
  Api,
  "monitoringOps",
  Effect.fn(function* (handlers) {
    const monitoring = yield* MonitoringOps
    return handlers
      .handle("performance", () =>
        CurrentPrincipal.use((p) => monitoring.performance(p)).pipe(Effect.mapError(opsError))
      )
      .handle("dlq", () => CurrentPrincipal.use((p) => monitoring.dlq(p)).pipe(Effect.mapError(opsError)))
      .handle("review", ({ payload }) =>
        CurrentPrincipal.use((p) => monitoring.review(p, payload)).pipe(Effect.mapError(opsError))
      )
      .handle("metrics", () =>
        CurrentPrincipal.use((p) => monitoring.budgetUse(p)).pipe(
          Effect.map((budgets) => ({
            source: "this process since it started (the Prometheus scrape at /metrics has every instrument)",
            budgets
          })),
          Effect.mapError(opsError)
        )
      )
      .handle("circuitBreakers", () =>
        CurrentPrincipal.use((p) => monitoring.breakers(p)).pipe(
          Effect.map((breakers) => ({ breakers })),
          Effect.mapError(opsError)
        )
      )
      .handle("resetCircuitBreaker", ({ params }) =>
        CurrentPrincipal.use((p) => monitoring.reset(p, params.name)).pipe(
          Effect.catchTag("BreakerResetFailed", (e) =>
            Effect.fail(new ServiceUnavailable({ code: "BreakerStoreUnavailable", message: e.message }))
          ),
          Effect.mapError((e) => (e._tag === "ServiceUnavailable" ? e : opsError(e)))
        )
      )
  })
)
