import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Connections, type ConnectionView } from "../../application/Connections.ts"
import { authTypeOf } from "../../domain/Provider.ts"
import { Api } from "./Api.ts"
import { BadRequest, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

export const toResponse = ({ connection, health }: ConnectionView) => ({
  ...connection,
  health: Option.getOrNull(health)
})

export const ConnectionsHttp = HttpApiBuilder.group(
  Api,
  "connections",
  Effect.fn(function* (handlers) {
    const connections = yield* Connections
    return handlers
      .handle("list", ({ query }) =>
        CurrentPrincipal.use((p) => connections.list(p, Option.fromNullishOr(query.venueId))).pipe(
          Effect.map((views) => views.map(toResponse)),
          Effect.mapError(toHttpError)
        )
      )
      .handle("get", ({ params, query }) =>
        CurrentPrincipal.use((p) => connections.get(p, query.venueId, params.provider)).pipe(
          Effect.map(toResponse),
          Effect.mapError(toHttpError)
        )
      )
      .handle("connect", ({ params, payload }) =>
        Effect.gen(function* () {
          const principal = yield* CurrentPrincipal
          if (authTypeOf(params.provider) === "api_key" && payload.apiKey === undefined) {
            return yield* new BadRequest({
              code: "MissingField",
              message: `apiKey is required to connect ${params.provider}`,
              field: "apiKey"
            })
          }
          const view = yield* connections
            .connectApiKey(principal, {
              venueId: payload.venueId,
              provider: params.provider,
              apiKey: payload.apiKey!
            })
            .pipe(Effect.mapError(toHttpError))
          return toResponse(view)
        })
      )
      .handle("replaceApiKey", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          connections.replaceApiKey(p, { venueId: payload.venueId, provider: params.provider, apiKey: payload.apiKey })
        ).pipe(Effect.map(toResponse), Effect.mapError(toHttpError))
      )
      .handle("reconnect", ({ params, payload }) =>
        CurrentPrincipal.use((p) => connections.reconnect(p, payload.venueId, params.provider)).pipe(
          Effect.map(toResponse),
          Effect.mapError(toHttpError)
        )
      )
      .handle("disconnect", ({ params, payload }) =>
        CurrentPrincipal.use((p) => connections.disconnect(p, payload.venueId, params.provider)).pipe(
          Effect.map(toResponse),
          Effect.mapError(toHttpError)
        )
      )
  })
)
