import { Effect, Schema } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { AccessTokenCheck } from "../../application/AccessTokenCheck.ts"
import { Connections } from "../../application/Connections.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { Api } from "./Api.ts"
import { NotFound, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { toOAuthHttpError } from "./OAuthHttpErrors.ts"

const isOAuth = Schema.is(OAuthProviderName)

export const HealthHttp = HttpApiBuilder.group(
  Api,
  "health",
  Effect.fn(function* (handlers) {
    const connections = yield* Connections
    const accessTokens = yield* AccessTokenCheck
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
      .handle("test", ({ params, payload }) => {
        const provider = params.provider
        // OAuth connections are tested with their access token, API-key ones with their stored key.
        if (isOAuth(provider))
          return CurrentPrincipal.use((p) => accessTokens.test(p, payload.venueId, provider)).pipe(
            Effect.mapError(toOAuthHttpError)
          )
        return CurrentPrincipal.use((p) => connections.test(p, payload.venueId, provider)).pipe(
          Effect.mapError(toHttpError)
        )
      })
  })
)
