import { Clock, Duration, Effect, Redacted } from "effect"
import OAuthClient from "intuit-oauth"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { OAuthGrantRejected, type TokenGrant, type TokenSet } from "../../domain/OAuth.ts"
import type {
  AccessTokenProbe,
  AuthorizationRequest,
  CodeExchange,
  OAuthProvider,
  TokenRevocation
} from "../../ports/OAuthProvider.ts"

/** Intuit's two worlds: sandbox companies live on their own API host (PROVIDERS.md §1, API base). */
export type QuickBooksEnvironment = "sandbox" | "production"

/** The accounting API host of each environment. */
export const intuitApiHosts: Readonly<Record<QuickBooksEnvironment, string>> = {
  sandbox: "https://sandbox-quickbooks.api.intuit.com",
  production: "https://quickbooks.api.intuit.com"
}

export interface QuickBooksEndpoints {
  readonly authorize: string
  readonly token: string
  readonly revoke: string
  readonly userInfo: string
}

/** Intuit's OAuth endpoints (PROVIDERS.md §1a): one set for both environments, but for the OpenID userinfo. */
export const intuitEndpoints = (environment: QuickBooksEnvironment): QuickBooksEndpoints => ({
  authorize: "https://appcenter.intuit.com/connect/oauth2",
  token: "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
  revoke: "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
  userInfo:
    environment === "sandbox"
      ? "https://sandbox-accounts.platform.intuit.com/v1/openid_connect/userinfo"
      : "https://accounts.platform.intuit.com/v1/openid_connect/userinfo"
})

/** The same paths under one base URL, as a sandbox fake serves them. */
export const endpointsUnder = (baseUrl: string): QuickBooksEndpoints => ({
  authorize: new URL("/connect/oauth2", baseUrl).toString(),
  token: new URL("/oauth2/v1/tokens/bearer", baseUrl).toString(),
  revoke: new URL("/v2/oauth2/tokens/revoke", baseUrl).toString(),
  userInfo: new URL("/v1/openid_connect/userinfo", baseUrl).toString()
})

export interface QuickBooksOAuthConfig {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly environment: QuickBooksEnvironment
  readonly endpoints: QuickBooksEndpoints
  /** Accounting API host, e.g. `https://quickbooks.api.intuit.com`; used to read the company name. */
  readonly apiBaseUrl: string
  readonly scopes: ReadonlyArray<string>
  readonly timeout: Duration.Input
}

interface IntuitFailure {
  readonly error?: unknown
  readonly authResponse?: { readonly response?: { readonly status?: number } }
}

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "quickbooks", message, retryable })

/**
 * intuit-oauth's errors carry the whole axios exchange (Basic header, form
 * body with the refresh token): only the status and the OAuth error code leave.
 */
const classify = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const failure = (typeof cause === "object" && cause !== null ? cause : {}) as IntuitFailure
  const status = failure.authResponse?.response?.status
  const code = typeof failure.error === "string" && /^[a-z_]{1,64}$/.test(failure.error) ? failure.error : "unknown"
  if (status === undefined) return unavailable("QuickBooks OAuth unreachable", true)
  if (status === 408 || status === 429 || status >= 500)
    return unavailable(`QuickBooks OAuth answered ${status} ${code}`, true)
  if (status === 400 && code === "invalid_grant")
    return new OAuthGrantRejected({
      provider: "quickbooks",
      code,
      message: "QuickBooks refused the grant (invalid_grant)"
    })
  return unavailable(`QuickBooks OAuth refused the request: ${status} ${code}`, false)
}

/**
 * The HTTP status behind a failed `makeApiCall`: intuit-oauth throws an OAuthError whose `code` is the status
 * ("403"), a word for 429 and 500, a Fault code with `fault` set for a 400, or TIMEOUT/NETWORK words (no status).
 */
const apiCallStatus = (cause: unknown): number | undefined => {
  const failure = (typeof cause === "object" && cause !== null ? cause : {}) as { code?: unknown; fault?: unknown }
  if (failure.fault !== undefined) return 400
  if (typeof failure.code !== "string") return undefined
  if (/^\d{3}$/.test(failure.code)) return Number(failure.code)
  if (failure.code === "RATE_LIMIT_EXCEEDED") return 429
  if (failure.code === "INTERNAL_SERVER_ERROR") return 500
  return undefined
}

/** A failed API call with the access token: 401 means the token is refused; 408, 429, 5xx and no answer are transient. */
const classifyApi = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const status = apiCallStatus(cause)
  if (status === 401)
    return new OAuthGrantRejected({
      provider: "quickbooks",
      code: "unauthorized",
      message: "QuickBooks refused the access token (401 AuthenticationFailed)"
    })
  if (status === undefined) return unavailable("QuickBooks API unreachable", true)
  return unavailable(`QuickBooks CompanyInfo answered ${status}`, status === 408 || status === 429 || status >= 500)
}

interface IntuitTokenJson {
  readonly access_token?: string
  readonly refresh_token?: string
  readonly expires_in?: number
  readonly x_refresh_token_expires_in?: number
}

/**
 * QuickBooks OAuth on `intuit-oauth`. That SDK keeps its endpoint URLs in class
 * statics (process-global) and reads them synchronously when a call builds its
 * request; every call here re-applies this configuration's URLs right before,
 * so configurations never leak into each other. A fresh SDK client per call
 * keeps its mutable token state private, and its built-in retries (a static
 * policy: 3 retries with 1-4 s waits) are switched off per instance: one call
 * here is one request, so the caller's retry policy and the "one refresh at a
 * time" lock stay in charge. No PKCE: Intuit does not document it.
 */
export const makeQuickBooksOAuth = (config: QuickBooksOAuthConfig): OAuthProvider => {
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(config.timeout))

  const sdk = (redirectUri = "") => {
    const client = new OAuthClient({
      environment: config.environment,
      clientId: config.clientId,
      clientSecret: Redacted.value(config.clientSecret),
      redirectUri,
      logging: false
    })
    client.shouldRetry = () => false
    return client.setAuthorizeURLs({
      authorizeEndpoint: config.endpoints.authorize,
      tokenEndpoint: config.endpoints.token,
      revokeEndpoint: config.endpoints.revoke,
      userInfoEndpoint: config.endpoints.userInfo
    })
  }

  const call = <A>(run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: classify }).pipe(
      Effect.timeoutOrElse({
        duration: config.timeout,
        orElse: () => Effect.fail(unavailable("QuickBooks OAuth timed out", true))
      })
    )

  const toTokenSet = (
    json: IntuitTokenJson | null,
    obtainedAt: number
  ): Effect.Effect<TokenSet, ProviderUnavailable> =>
    json?.access_token === undefined || typeof json.expires_in !== "number"
      ? Effect.fail(unavailable("QuickBooks token response was incomplete", false))
      : Effect.succeed({
          accessToken: Redacted.make(json.access_token),
          refreshToken: json.refresh_token === undefined ? null : Redacted.make(json.refresh_token),
          obtainedAt: new Date(obtainedAt),
          expiresAt: new Date(obtainedAt + json.expires_in * 1000),
          refreshTokenExpiresAt:
            typeof json.x_refresh_token_expires_in === "number"
              ? new Date(obtainedAt + json.x_refresh_token_expires_in * 1000)
              : null,
          scopes: config.scopes
        })

  /**
   * The callback's `realmId` is only a claim of the redirect URL, which the user can edit: the new access token must
   * open that company's CompanyInfo before anything is stored. Refused (401/403) → the grant proves nothing and is
   * revoked; unreachable → a retryable failure, never a success.
   */
  const proveCompany = (client: OAuthClient, realmId: string) =>
    Effect.tryPromise({
      try: () =>
        client.makeApiCall({
          url: `${new URL(`/v3/company/${encodeURIComponent(realmId)}/companyinfo/${encodeURIComponent(realmId)}`, config.apiBaseUrl)}?minorversion=75`,
          method: "GET",
          timeout: timeoutMs
        }),
      catch: (cause): OAuthGrantRejected | ProviderUnavailable => {
        const status = apiCallStatus(cause)
        return status === undefined || status === 408 || status === 429 || status >= 500
          ? unavailable(`QuickBooks could not confirm company ${realmId} (${status ?? "unreachable"})`, true)
          : new OAuthGrantRejected({
              provider: "quickbooks",
              code: "account_not_proven",
              message: `QuickBooks did not confirm company ${realmId} for the new token (${status})`
            })
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: config.timeout,
        orElse: () => Effect.fail(unavailable("QuickBooks CompanyInfo timed out", true))
      }),
      Effect.map((r) => {
        const name = (r.json as { CompanyInfo?: { CompanyName?: unknown } } | null)?.CompanyInfo?.CompanyName
        return typeof name === "string" ? name : null
      }),
      Effect.tapError((e) =>
        e._tag === "OAuthGrantRejected"
          ? call(() => client.revoke({ access_token: client.getToken().access_token })).pipe(Effect.ignore)
          : Effect.void
      )
    )

  return {
    provider: "quickbooks",
    supportsPkce: false,
    scopes: config.scopes,
    authorizationUrl: (request: AuthorizationRequest) =>
      sdk(request.redirectUri).authorizeUri({ scope: [...(request.scopes ?? config.scopes)], state: request.state }),

    exchangeCode: Effect.fn("QuickBooksOAuth.exchangeCode")(function* (exchange: CodeExchange) {
      const realmId = exchange.callbackQuery.realmId
      if (realmId === undefined || realmId === "")
        return yield* new OAuthGrantRejected({
          provider: "quickbooks",
          code: "missing_realm_id",
          message: "the QuickBooks callback carried no realmId"
        })
      const obtainedAt = yield* Clock.currentTimeMillis
      const client = sdk(exchange.redirectUri)
      const callback = new URL(exchange.redirectUri)
      for (const [key, value] of Object.entries(exchange.callbackQuery)) callback.searchParams.set(key, value)
      callback.searchParams.set("code", exchange.code)
      const response = yield* call(() => client.createToken(callback.toString()))
      const tokens = yield* toTokenSet(response.json as IntuitTokenJson | null, obtainedAt)
      const accountName = yield* proveCompany(client, realmId)
      return { ...tokens, accountId: realmId, accountName, extra: {} } satisfies TokenGrant
    }),

    refresh: Effect.fn("QuickBooksOAuth.refresh")(function* (refreshToken: Redacted.Redacted<string>) {
      const obtainedAt = yield* Clock.currentTimeMillis
      const client = sdk()
      const response = yield* call(() => client.refreshUsingToken(Redacted.value(refreshToken)))
      return yield* toTokenSet(response.json as IntuitTokenJson | null, obtainedAt)
    }),

    verifyAccessToken: Effect.fn("QuickBooksOAuth.verifyAccessToken")(function* (probe: AccessTokenProbe) {
      const realmId = probe.accountId
      if (realmId === null) return yield* unavailable("the connection has no QuickBooks company; connect again", false)
      const client = sdk()
      client.setToken({ access_token: Redacted.value(probe.accessToken) })
      const response = yield* Effect.tryPromise({
        try: () =>
          client.makeApiCall({
            url: `${new URL(`/v3/company/${encodeURIComponent(realmId)}/companyinfo/${encodeURIComponent(realmId)}`, config.apiBaseUrl)}?minorversion=75`,
            method: "GET",
            timeout: timeoutMs
          }),
        catch: classifyApi
      }).pipe(
        Effect.timeoutOrElse({
          duration: config.timeout,
          orElse: () => Effect.fail(unavailable("QuickBooks CompanyInfo timed out", true))
        })
      )
      // Intuit may answer 200 with a Fault instead of the entity.
      if ((response.json as { CompanyInfo?: unknown } | null)?.CompanyInfo === undefined)
        return yield* unavailable("QuickBooks CompanyInfo answered without the company", false)
    }),

    revoke: Effect.fn("QuickBooksOAuth.revoke")(function* (tokens: TokenRevocation) {
      // Revoking the refresh token ends the whole grant; the access token alone only ends itself.
      const client = sdk()
      yield* call(() =>
        client.revoke(
          tokens.refreshToken === null
            ? { access_token: Redacted.value(tokens.accessToken) }
            : { refresh_token: Redacted.value(tokens.refreshToken) }
        )
      )
      return { revoked: true } as const
    })
  }
}
