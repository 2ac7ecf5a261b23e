import { Effect, Option, Schema } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Connections, type ConnectionView } from "../../application/Connections.ts"
import { Mappings } from "../../application/mappings/Mappings.ts"
import { OAuthConnections } from "../../application/OAuthConnections.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { authTypeOf } from "../../domain/Provider.ts"
import { Api } from "./Api.ts"
import { BadRequest, toHttpError, UnprocessableEntity } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { toOAuthHttpError } from "./OAuthHttpErrors.ts"

const isOAuth = Schema.is(OAuthProviderName)

export const toResponse = ({ connection, health }: ConnectionView) => ({
  ...connection,
  health: Option.getOrNull(health)
})

export const ConnectionsHttp = HttpApiBuilder.group(
  Api,
  "connections",
  Effect.fn(function* (handlers) {
    const mappings = yield* Mappings
    const connections = yield* Connections
    const oauth = yield* OAuthConnections
    return handlers
      .handle("list", ({ query }) =>
        CurrentPrincipal.use((p) => connections.list(p, Option.fromNullishOr(query.venueId))).pipe(
          Effect.map((views) => views.map(toResponse)),
          Effect.mapError(toHttpError)
        )
      )
      .handle("get", ({ params, query }) =>
        Effect.gen(function* () {
          const view = yield* CurrentPrincipal.use((p) => connections.get(p, query.venueId, params.provider))
          return { ...toResponse(view), ...(yield* mappings.statusOf(view.connection)) }
        }).pipe(Effect.mapError(toHttpError))
      )
      .handle("connect", ({ params, payload }) =>
        Effect.gen(function* () {
          const principal = yield* CurrentPrincipal
          if (isOAuth(params.provider)) {
            if (payload.apiKey !== undefined)
              return yield* new UnprocessableEntity({
                code: "Unprocessable",
                message: `${params.provider} connects through OAuth, not an API key`,
                field: "provider"
              })
            return yield* oauth
              .connect(principal, payload.venueId, params.provider)
              .pipe(Effect.mapError(toOAuthHttpError))
          }
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
      .handle("reconnect", ({ params, payload }) => {
        const provider = params.provider
        if (isOAuth(provider))
          return CurrentPrincipal.use((p) => oauth.reconnect(p, payload.venueId, provider)).pipe(
            Effect.map(({ view }) => toResponse(view)),
            Effect.mapError(toOAuthHttpError)
          )
        return CurrentPrincipal.use((p) => connections.reconnect(p, payload.venueId, provider)).pipe(
          Effect.map(toResponse),
          Effect.mapError(toHttpError)
        )
      })
      .handle("disconnect", ({ params, payload }) => {
        const provider = params.provider
        if (isOAuth(provider))
          return CurrentPrincipal.use((p) => oauth.disconnect(p, payload.venueId, provider)).pipe(
            Effect.map(({ view, revocation }) => ({ ...toResponse(view), revocation })),
            Effect.mapError(toOAuthHttpError)
          )
        return CurrentPrincipal.use((p) => connections.disconnect(p, payload.venueId, provider)).pipe(
          Effect.map(toResponse),
          Effect.mapError(toHttpError)
        )
      })
  })
)
