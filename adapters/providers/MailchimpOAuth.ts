import { Clock, Duration, Effect, Redacted } from "effect"
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { mailchimpNoRevocation, OAuthGrantRejected, type TokenGrant } from "../../domain/OAuth.ts"
import type { AccessTokenProbe, AuthorizationRequest, CodeExchange, OAuthProvider } from "../../ports/OAuthProvider.ts"
import { marketingClient, marketingFailure } from "./MailchimpMarketingClient.ts"

export interface MailchimpOAuthConfig {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** `https://login.mailchimp.com`: authorize, token and metadata live under `/oauth2/`. */
  readonly oauthBaseUrl: string
  readonly timeout: Duration.Input
}

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "mailchimp", message, retryable })

const errorCode = (body: unknown): string => {
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined
  return typeof error === "string" && /^[a-z_]{1,64}$/.test(error) ? error : "unknown"
}

/** Status and OAuth error code only; bodies are never echoed. */
const classify = (status: number, body: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const code = errorCode(body)
  if (status === 408 || status === 429 || status >= 500)
    return unavailable(`Mailchimp OAuth answered ${status} ${code}`, true)
  if (status === 400 && code === "invalid_grant")
    return new OAuthGrantRejected({
      provider: "mailchimp",
      code,
      message: "Mailchimp refused the grant (invalid_grant)"
    })
  return unavailable(`Mailchimp OAuth refused the request: ${status} ${code}`, false)
}

/** A 401 from the API means the token is dead (the venue removed the app); only the status leaves. */
const classifyApi = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const failure = marketingFailure(cause)
  if (typeof failure.status !== "number")
    return unavailable(failure.timeout === undefined ? "Mailchimp API unreachable" : "Mailchimp ping timed out", true)
  const status = failure.status
  if (status === 401)
    return new OAuthGrantRejected({
      provider: "mailchimp",
      code: "invalid_token",
      message: "Mailchimp refused the access token (401 API Key Invalid)"
    })
  return unavailable(`Mailchimp ping answered ${status}`, status === 408 || status === 429 || status >= 500)
}

interface Metadata {
  readonly dc?: unknown
  readonly user_id?: unknown
  readonly accountname?: unknown
  readonly api_endpoint?: unknown
  readonly error?: unknown
}

/**
 * Mailchimp OAuth on its documented endpoints (the marketing SDK has no OAuth
 * calls). Tokens never expire and there is no refresh token; the datacenter
 * comes from `/oauth2/metadata` and must be stored with the token. Mailchimp
 * documents no revocation, so `revoke` answers `revoked: false` without a call
 * (the user removes the app in Mailchimp). Tokens are checked with the marketing
 * SDK's `/3.0/ping`. No PKCE, no scopes.
 */
export const makeMailchimpOAuth = Effect.fnUntraced(function* (config: MailchimpOAuthConfig) {
  const http = yield* HttpClient.HttpClient
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(config.timeout))
  const endpoint = (path: string) => new URL(path, config.oauthBaseUrl).toString()

  const send = (request: HttpClientRequest.HttpClientRequest) =>
    http.execute(request).pipe(
      Effect.flatMap((response: HttpClientResponse.HttpClientResponse) =>
        response.json.pipe(
          Effect.map((body) => ({ status: response.status, body: body as unknown })),
          Effect.catch(() => Effect.succeed({ status: response.status, body: null as unknown }))
        )
      ),
      Effect.catchTag("HttpClientError", () => Effect.fail(unavailable("Mailchimp OAuth unreachable", true))),
      Effect.timeoutOrElse({
        duration: config.timeout,
        orElse: () => Effect.fail(unavailable("Mailchimp OAuth timed out", true))
      })
    )

  const provider: OAuthProvider = {
    provider: "mailchimp",
    supportsPkce: false,
    scopes: [],
    authorizationUrl: (request: AuthorizationRequest) => {
      const url = new URL(endpoint("/oauth2/authorize"))
      url.searchParams.set("response_type", "code")
      url.searchParams.set("client_id", config.clientId)
      url.searchParams.set("redirect_uri", request.redirectUri)
      url.searchParams.set("state", request.state)
      return url.toString()
    },

    exchangeCode: Effect.fn("MailchimpOAuth.exchangeCode")(function* (exchange: CodeExchange) {
      const obtainedAt = yield* Clock.currentTimeMillis
      const token = yield* send(
        HttpClientRequest.post(endpoint("/oauth2/token")).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyUrlParams({
            grant_type: "authorization_code",
            client_id: config.clientId,
            client_secret: Redacted.value(config.clientSecret),
            redirect_uri: exchange.redirectUri,
            code: exchange.code
          })
        )
      )
      if (token.status !== 200) return yield* classify(token.status, token.body)
      const accessToken = (token.body as { access_token?: unknown } | null)?.access_token
      if (typeof accessToken !== "string")
        return yield* unavailable("Mailchimp token response had no access_token", false)

      const metadata = yield* send(
        HttpClientRequest.get(endpoint("/oauth2/metadata")).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.setHeader("Authorization", `OAuth ${accessToken}`)
        )
      )
      if (metadata.status !== 200) return yield* classify(metadata.status, metadata.body)
      const meta = (metadata.body ?? {}) as Metadata
      // Metadata answers 200 with {"error":"invalid_token"} for a token it does not know.
      if (meta.error !== undefined)
        return yield* new OAuthGrantRejected({
          provider: "mailchimp",
          code: errorCode(meta),
          message: "Mailchimp metadata refused the new token"
        })
      if (typeof meta.dc !== "string" || (typeof meta.user_id !== "number" && typeof meta.user_id !== "string"))
        return yield* unavailable("Mailchimp metadata had no dc or user_id", false)
      return {
        accessToken: Redacted.make(accessToken),
        refreshToken: null,
        obtainedAt: new Date(obtainedAt),
        expiresAt: null,
        refreshTokenExpiresAt: null,
        scopes: [],
        accountId: `${meta.dc}:${meta.user_id}`,
        accountName: typeof meta.accountname === "string" ? meta.accountname : null,
        extra: {
          dc: meta.dc,
          apiEndpoint:
            typeof meta.api_endpoint === "string" ? meta.api_endpoint : `https://${meta.dc}.api.mailchimp.com`
        }
      } satisfies TokenGrant
    }),

    refresh: Effect.fn("MailchimpOAuth.refresh")(function* (_refreshToken: Redacted.Redacted<string>) {
      return yield* new OAuthGrantRejected({
        provider: "mailchimp",
        code: "unsupported_grant_type",
        message: "Mailchimp tokens cannot be refreshed; they do not expire"
      })
    }),

    verifyAccessToken: Effect.fn("MailchimpOAuth.verifyAccessToken")(function* (probe: AccessTokenProbe) {
      const { dc, apiEndpoint } = probe.extra
      if (dc === undefined)
        return yield* unavailable("the connection has no Mailchimp datacenter; connect again", false)
      yield* Effect.tryPromise({
        try: () => marketingClient({ accessToken: probe.accessToken, dc, apiEndpoint }, timeoutMs).ping.get(),
        catch: classifyApi
      })
    }),

    revoke: Effect.fn("MailchimpOAuth.revoke")(function* () {
      yield* Effect.annotateCurrentSpan({ "oauth.revoke": "not supported by Mailchimp; nothing sent" })
      return { revoked: false, reason: mailchimpNoRevocation } as const
    })
  }
  return provider
})
