import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Connections } from "../../application/Connections.ts"
import { Api } from "./Api.ts"
import { NotFound, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

export const HealthHttp = HttpApiBuilder.group(
  Api,
  "health",
  Effect.fn(function* (handlers) {
    const connections = yield* Connections
    return handlers
      .handle("health", ({ params, query }) =>
        CurrentPrincipal.use((p) => connections.get(p, query.venueId, params.provider)).pipe(
          Effect.mapError(toHttpError),
          Effect.flatMap(({ health }) =>
            Effect.fromOption(health).pipe(
              Effect.mapError(
                () => new NotFound({ code: "HealthNotFound", message: "no health recorded yet", field: "provider" })
              )
            )
          )
        )
      )
      .handle("test", ({ params, payload }) =>
        CurrentPrincipal.use((p) => connections.test(p, payload.venueId, params.provider)).pipe(
          Effect.mapError(toHttpError)
        )
      )
  })
)
