import { Duration } from "effect"
import type { OAuthProviderName, TokenSet } from "./OAuth.ts"
import { refreshDueAt } from "./OAuth.ts"

/** What is known about a stored token pair besides its secrets. */
export interface TokenLifecycle {
  readonly obtainedAt: Date
  readonly expiresAt: Date | null
  readonly refreshTokenExpiresAt: Date | null
  readonly hasRefreshToken: boolean
  readonly scopes: ReadonlyArray<string>
  /** Mailchimp's datacenter and API base. */
  readonly extra: { readonly dc?: string; readonly apiEndpoint?: string }
}

export const lifecycleOf = (tokens: TokenSet, extra: TokenLifecycle["extra"] = {}): TokenLifecycle => ({
  obtainedAt: tokens.obtainedAt,
  expiresAt: tokens.expiresAt,
  refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
  hasRefreshToken: tokens.refreshToken !== null,
  scopes: tokens.scopes,
  extra
})

/** QuickBooks refresh tokens die after ~100 idle days: renew them this long before. */
export const idleRefreshMargin = Duration.days(14)

/**
 * When the background refresher renews a pair that sees no traffic, or null
 * for never: Square once the access token is 7 days old (its refresh rule),
 * QuickBooks two weeks before the rolling refresh token would idle out (its
 * 1 h access tokens are renewed on use, not in the background), Mailchimp never.
 */
export const renewAt = (provider: OAuthProviderName, token: TokenLifecycle): Date | null => {
  if (!token.hasRefreshToken) return null
  if (provider === "square") return refreshDueAt(provider, token)
  if (provider === "quickbooks")
    return token.refreshTokenExpiresAt === null
      ? null
      : new Date(token.refreshTokenExpiresAt.getTime() - Duration.toMillis(idleRefreshMargin))
  return null
}

/** The access token is past its expiry: no caller may use it any more. */
export const isExpired = (token: Pick<TokenLifecycle, "expiresAt">, now: Date): boolean =>
  token.expiresAt !== null && token.expiresAt.getTime() <= now.getTime()
