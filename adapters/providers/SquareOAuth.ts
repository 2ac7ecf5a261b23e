import { Clock, Duration, Effect, Redacted } from "effect"
import { SquareClient, SquareError, SquareTimeoutError } from "square"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { OAuthGrantRejected, type TokenGrant, type TokenSet } from "../../domain/OAuth.ts"
import type {
  AccessTokenProbe,
  AuthorizationRequest,
  CodeExchange,
  OAuthProvider,
  TokenRevocation
} from "../../ports/OAuthProvider.ts"

export interface SquareOAuthConfig {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** API and OAuth host, e.g. `https://connect.squareup.com` (sandbox: `https://connect.squareupsandbox.com`). */
  readonly baseUrl: string
  readonly scopes: ReadonlyArray<string>
  readonly timeout: Duration.Input
}

/** Square answers a dead code or refresh token with 401 and one of these (PROVIDERS.md §1f). */
const deadGrantCodes = new Set(["UNAUTHORIZED", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_REVOKED", "NOT_FOUND"])

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "square", message, retryable })

/** Only status and Square's error code leave here: SDK messages embed request and response bodies. */
const classify = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  if (cause instanceof SquareTimeoutError) return unavailable("Square OAuth timed out", true)
  if (!(cause instanceof SquareError) || cause.statusCode === undefined)
    return unavailable("Square OAuth unreachable", true)
  const status = cause.statusCode
  const code = cause.errors[0]?.code ?? "Unknown"
  if (status === 408 || status === 429 || status >= 500)
    return unavailable(`Square OAuth answered ${status} ${code}`, true)
  if ((status === 401 || status === 404) && deadGrantCodes.has(code))
    return new OAuthGrantRejected({ provider: "square", code, message: `Square refused the grant (${code})` })
  return unavailable(`Square OAuth refused the request: ${status} ${code}`, false)
}

/** The API's answer to an access token: any 401 means Square no longer honours it. */
const classifyApi = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  if (cause instanceof SquareTimeoutError) return unavailable("Square ListLocations timed out", true)
  if (!(cause instanceof SquareError) || cause.statusCode === undefined)
    return unavailable("Square API unreachable", true)
  const status = cause.statusCode
  const code = cause.errors[0]?.code ?? "Unknown"
  if (status === 401)
    return new OAuthGrantRejected({ provider: "square", code, message: `Square refused the access token (${code})` })
  return unavailable(
    `Square ListLocations answered ${status} ${code}`,
    status === 408 || status === 429 || status >= 500
  )
}

const parseDate = (iso: string | undefined): Date | null => {
  if (iso === undefined) return null
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? null : date
}

/** Square OAuth on the official `square` SDK; the SDK's own retries are off so the caller's policy decides. */
export const makeSquareOAuth = (config: SquareOAuthConfig): OAuthProvider => {
  const timeoutInSeconds = Math.ceil(Duration.toSeconds(Duration.fromInputUnsafe(config.timeout)))
  const sdk = new SquareClient({ baseUrl: config.baseUrl, maxRetries: 0, timeoutInSeconds, auth: false })
  const revoker = new SquareClient({
    baseUrl: config.baseUrl,
    maxRetries: 0,
    timeoutInSeconds,
    auth: async () => ({ headers: { Authorization: `Client ${Redacted.value(config.clientSecret)}` } })
  })

  const call = <A>(run: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: classify }).pipe(
      Effect.timeoutOrElse({
        duration: config.timeout,
        orElse: () => Effect.fail(unavailable("Square OAuth timed out", true))
      })
    )

  const toTokenSet = (
    response: { accessToken?: string; refreshToken?: string; expiresAt?: string; refreshTokenExpiresAt?: string },
    obtainedAt: number
  ): Effect.Effect<TokenSet, ProviderUnavailable> =>
    response.accessToken === undefined
      ? Effect.fail(unavailable("Square token response had no access_token", false))
      : Effect.succeed({
          accessToken: Redacted.make(response.accessToken),
          refreshToken: response.refreshToken === undefined ? null : Redacted.make(response.refreshToken),
          obtainedAt: new Date(obtainedAt),
          expiresAt: parseDate(response.expiresAt),
          refreshTokenExpiresAt: parseDate(response.refreshTokenExpiresAt),
          scopes: config.scopes
        })

  /** Display name only: a failed lookup leaves it null rather than failing a connect that already holds tokens. */
  const businessName = (accessToken: Redacted.Redacted<string>) =>
    call((signal) =>
      new SquareClient({
        baseUrl: config.baseUrl,
        token: Redacted.value(accessToken),
        maxRetries: 0,
        timeoutInSeconds
      }).locations.list({ abortSignal: signal })
    ).pipe(
      Effect.map((r) => r.locations?.[0]?.businessName ?? r.locations?.[0]?.name ?? null),
      Effect.catch((e) => Effect.logWarning("Square location lookup failed", e.message).pipe(Effect.as(null)))
    )

  return {
    provider: "square",
    supportsPkce: true,
    scopes: config.scopes,
    authorizationUrl: (request: AuthorizationRequest) => {
      const url = new URL("/oauth2/authorize", config.baseUrl)
      url.searchParams.set("client_id", config.clientId)
      url.searchParams.set("scope", (request.scopes ?? config.scopes).join(" "))
      url.searchParams.set("session", "false")
      url.searchParams.set("state", request.state)
      url.searchParams.set("redirect_uri", request.redirectUri)
      if (request.codeChallenge !== null) url.searchParams.set("code_challenge", request.codeChallenge)
      return url.toString()
    },

    exchangeCode: Effect.fn("SquareOAuth.exchangeCode")(function* (exchange: CodeExchange) {
      const obtainedAt = yield* Clock.currentTimeMillis
      // PKCE flow sends the verifier instead of the secret, as Square documents it.
      const response = yield* call((signal) =>
        sdk.oAuth.obtainToken(
          {
            clientId: config.clientId,
            grantType: "authorization_code",
            code: exchange.code,
            redirectUri: exchange.redirectUri,
            ...(exchange.codeVerifier === null
              ? { clientSecret: Redacted.value(config.clientSecret) }
              : { codeVerifier: Redacted.value(exchange.codeVerifier) })
          },
          { abortSignal: signal }
        )
      )
      const tokens = yield* toTokenSet(response, obtainedAt)
      if (response.merchantId === undefined)
        return yield* unavailable("Square token response had no merchant_id", false)
      const accountName = yield* businessName(tokens.accessToken)
      return { ...tokens, accountId: response.merchantId, accountName, extra: {} } satisfies TokenGrant
    }),

    refresh: Effect.fn("SquareOAuth.refresh")(function* (refreshToken: Redacted.Redacted<string>) {
      const obtainedAt = yield* Clock.currentTimeMillis
      const response = yield* call((signal) =>
        sdk.oAuth.obtainToken(
          {
            clientId: config.clientId,
            clientSecret: Redacted.value(config.clientSecret),
            grantType: "refresh_token",
            refreshToken: Redacted.value(refreshToken)
          },
          { abortSignal: signal }
        )
      )
      return yield* toTokenSet(response, obtainedAt)
    }),

    verifyAccessToken: Effect.fn("SquareOAuth.verifyAccessToken")(function* (probe: AccessTokenProbe) {
      // ListLocations is the call Square recommends for checking a token.
      yield* Effect.tryPromise({
        try: (signal) =>
          new SquareClient({
            baseUrl: config.baseUrl,
            token: Redacted.value(probe.accessToken),
            maxRetries: 0,
            timeoutInSeconds
          }).locations.list({ abortSignal: signal }),
        catch: classifyApi
      }).pipe(
        Effect.timeoutOrElse({
          duration: config.timeout,
          orElse: () => Effect.fail(unavailable("Square ListLocations timed out", true))
        })
      )
    }),

    revoke: Effect.fn("SquareOAuth.revoke")(function* (tokens: TokenRevocation) {
      // Square ends every token of the app for that merchant, whichever one is named.
      yield* call((signal) =>
        revoker.oAuth.revokeToken(
          { clientId: config.clientId, accessToken: Redacted.value(tokens.accessToken) },
          { abortSignal: signal }
        )
      )
      return { revoked: true } as const
    })
  }
}
