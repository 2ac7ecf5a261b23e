import { Config, Effect, Layer, Option } from "effect"
import { HttpServerResponse, UrlParams } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { OAuthConnections } from "../../application/OAuthConnections.ts"
import { Api } from "./Api.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { toResponse } from "./ConnectionsHttp.ts"
import { toOAuthHttpError } from "./OAuthHttpErrors.ts"

const optionalUrl = (name: string) =>
  Config.option(Config.String(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

const withQuery = (base: string, params: Record<string, string>) => {
  const url = new URL(base)
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
  return url.toString()
}

/**
 * The callback answers a browser: a 302 to `OAUTH_SUCCESS_URL` or
 * `OAUTH_FAILURE_URL` (with provider, venue and an error code, never a token)
 * when they are configured, JSON otherwise. A state that is not ours is a
 * 400 either way: there is no flow to send anyone back to.
 */
export const OAuthCallbackHttp = HttpApiBuilder.group(
  Api,
  "oauthCallback",
  Effect.fn(function* (handlers) {
    const oauth = yield* OAuthConnections
    const successUrl = yield* optionalUrl("OAUTH_SUCCESS_URL")
    const failureUrl = yield* optionalUrl("OAUTH_FAILURE_URL")
    return handlers.handle("callback", ({ params, query }) =>
      Effect.gen(function* () {
        const entries = Object.entries(query).filter((e): e is [string, string] => typeof e[1] === "string")
        const result = yield* oauth.callback(params.provider, Object.fromEntries(entries)).pipe(
          Effect.catchTags({
            OAuthGrantRejected: (e) =>
              Option.isSome(failureUrl)
                ? Effect.succeed(
                    HttpServerResponse.redirect(
                      withQuery(failureUrl.value, { provider: params.provider, error: e.code })
                    )
                  )
                : Effect.fail(e)
          })
        )
        if (HttpServerResponse.isHttpServerResponse(result)) return result
        if (result._tag === "Denied") {
          const body = {
            status: "denied" as const,
            provider: result.provider,
            venueId: result.venueId,
            connection: null,
            error: result.error
          }
          return Option.match(failureUrl, {
            onNone: () => body,
            onSome: (url) =>
              HttpServerResponse.redirect(
                withQuery(url, { provider: result.provider, venueId: result.venueId, error: result.error })
              )
          })
        }
        const { connection } = result
        const body = {
          status: "connected" as const,
          provider: params.provider,
          venueId: connection.venueId,
          connection,
          error: null
        }
        return Option.match(successUrl, {
          onNone: () => body,
          onSome: (url) =>
            HttpServerResponse.redirect(withQuery(url, { provider: params.provider, venueId: connection.venueId }))
        })
      }).pipe(Effect.mapError(toOAuthHttpError))
    )
  })
)

export const OAuthHttp = HttpApiBuilder.group(
  Api,
  "oauth",
  Effect.fn(function* (handlers) {
    const oauth = yield* OAuthConnections
    return handlers.handle("refresh", ({ params, payload }) =>
      Effect.gen(function* () {
        const principal = yield* CurrentPrincipal
        const { view, expiresAt } = yield* oauth.refresh(principal, payload.venueId, params.provider)
        return { ...toResponse(view), accessTokenExpiresAt: expiresAt }
      }).pipe(Effect.mapError(toOAuthHttpError))
    )
  })
)

/**
 * Credentials in URLs: the OAuth callback's one-time `code` and `state`, and the `secret` of a Mailchimp webhook URL.
 * Spans and logs show them as `<redacted>`, like the default signature names.
 */
export const OAuthUrlRedaction = Layer.succeed(UrlParams.CurrentRedactedNames, [
  ...UrlParams.CurrentRedactedNames.defaultValue(),
  "code",
  "state",
  "secret"
])
