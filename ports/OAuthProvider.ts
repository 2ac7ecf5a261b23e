import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { ProviderUnavailable } from "../domain/Errors.ts"
import type {
  OAuthGrantRejected,
  OAuthNotConfigured,
  OAuthProviderName,
  TokenGrant,
  TokenSet
} from "../domain/OAuth.ts"

export interface AuthorizationRequest {
  /** Random, single-use CSRF token the caller stores and checks on the callback. */
  readonly state: string
  readonly redirectUri: string
  /** S256 challenge; ignored by providers without PKCE (`supportsPkce: false`). */
  readonly codeChallenge: string | null
  /** Defaults to the configured scopes. */
  readonly scopes?: ReadonlyArray<string>
}

export interface CodeExchange {
  readonly code: string
  /** Must equal the one in the authorization URL. */
  readonly redirectUri: string
  /** The verifier behind `codeChallenge`; null when none was sent. */
  readonly codeVerifier: Redacted.Redacted<string> | null
  /** Every query parameter of the callback (QuickBooks puts `realmId` there). */
  readonly callbackQuery: Readonly<Record<string, string>>
}

export interface TokenRevocation {
  readonly accessToken: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string> | null
}

/** What revoking did: a provider without revocation says why nothing was sent. */
export type RevocationOutcome = { readonly revoked: true } | { readonly revoked: false; readonly reason: string }

/** An access token to try against the provider's API, with what that call needs besides the token. */
export interface AccessTokenProbe {
  readonly accessToken: Redacted.Redacted<string>
  /** The connection's account: QuickBooks reads CompanyInfo of this realm. */
  readonly accountId: string | null
  /** Mailchimp's datacenter and API base. */
  readonly extra: TokenGrant["extra"]
}

/**
 * One provider's OAuth 2 client. Errors: `OAuthGrantRejected` means the code or
 * refresh token is dead (mark the connection needs_reauth, do not retry);
 * `ProviderUnavailable` with `retryable: true` is 5xx, 429, timeout or network,
 * `retryable: false` is our own client credentials being refused.
 */
export interface OAuthProvider {
  readonly provider: OAuthProviderName
  readonly supportsPkce: boolean
  readonly scopes: ReadonlyArray<string>
  readonly authorizationUrl: (request: AuthorizationRequest) => string
  readonly exchangeCode: (exchange: CodeExchange) => Effect.Effect<TokenGrant, OAuthGrantRejected | ProviderUnavailable>
  /**
   * One call to the token endpoint, no retries inside: the caller holds the
   * per-connection lock and must persist `refreshToken` of the result at once
   * (QuickBooks and Square PKCE rotate it; the old one stops working).
   */
  readonly refresh: (
    refreshToken: Redacted.Redacted<string>
  ) => Effect.Effect<TokenSet, OAuthGrantRejected | ProviderUnavailable>
  /**
   * The cheapest authenticated API call (Square ListLocations, QuickBooks CompanyInfo, Mailchimp ping): does the
   * access token still open the account? A token the API refuses (401) is `OAuthGrantRejected`.
   */
  readonly verifyAccessToken: (probe: AccessTokenProbe) => Effect.Effect<void, OAuthGrantRejected | ProviderUnavailable>
  /** Ends the authorization at the provider. Mailchimp has no revocation: it answers `revoked: false` without a call. */
  readonly revoke: (
    tokens: TokenRevocation
  ) => Effect.Effect<RevocationOutcome, OAuthGrantRejected | ProviderUnavailable>
}

export class OAuthProviders extends Context.Service<
  OAuthProviders,
  {
    readonly get: (provider: OAuthProviderName) => Effect.Effect<OAuthProvider, OAuthNotConfigured>
  }
>()("integration-service/ports/OAuthProviders") {}
