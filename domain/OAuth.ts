import type { Redacted } from "effect"
import { Duration, Effect, Schema } from "effect"
import { Base64Url } from "effect/encoding"

export const OAuthProviderName = Schema.Literals(["square", "quickbooks", "mailchimp"])
export type OAuthProviderName = typeof OAuthProviderName.Type

/** Scopes asked for when configuration names none (PROVIDERS.md §1a). Mailchimp has no scopes. */
export const defaultScopes: Readonly<Record<OAuthProviderName, ReadonlyArray<string>>> = {
  square: [
    "MERCHANT_PROFILE_READ",
    "ITEMS_READ",
    "ITEMS_WRITE",
    "INVENTORY_READ",
    "INVENTORY_WRITE",
    "CUSTOMERS_READ",
    "CUSTOMERS_WRITE",
    "PAYMENTS_READ",
    "PAYMENTS_WRITE",
    "ORDERS_READ",
    "ORDERS_WRITE",
    "INVOICES_READ",
    "INVENTORY_READ"
  ],
  quickbooks: ["com.intuit.quickbooks.accounting"],
  mailchimp: []
}

/** Fresh tokens from a token endpoint. Tokens are `Redacted` so they never print. */
export interface TokenSet {
  readonly accessToken: Redacted.Redacted<string>
  /** Null when the provider issues none (Mailchimp). QuickBooks rotates it: always keep the newest. */
  readonly refreshToken: Redacted.Redacted<string> | null
  /** When the token was received; Square's refresh rule counts age from here. */
  readonly obtainedAt: Date
  /** Null when the access token never expires (Mailchimp). */
  readonly expiresAt: Date | null
  readonly refreshTokenExpiresAt: Date | null
  readonly scopes: ReadonlyArray<string>
}

/** A code exchange: the tokens plus the account they open. */
export interface TokenGrant extends TokenSet {
  /** Square `merchant_id`, QuickBooks `realmId`, Mailchimp `${dc}:${user_id}`. */
  readonly accountId: string
  readonly accountName: string | null
  /** Mailchimp's datacenter and API base; both must be kept with the token. */
  readonly extra: { readonly dc?: string; readonly apiEndpoint?: string }
}

/**
 * The grant is dead (a code or refresh token refused, or an access token the API refuses): the user must authorize
 * again. Carries the provider's code, never a token.
 */
export class OAuthGrantRejected extends Schema.TaggedError<OAuthGrantRejected>()("OAuthGrantRejected", {
  provider: OAuthProviderName,
  code: Schema.String,
  message: Schema.String
}) {}

/** Mailchimp documents no token revocation (PROVIDERS.md §1a): disconnecting cannot end the grant there. */
export const mailchimpNoRevocation =
  "Mailchimp has no token revocation; the token works until the venue removes the app in its Mailchimp account"

/** OAuth for this provider lacks a setting; `setting` names it, e.g. `SQUARE_CLIENT_ID`. */
export class OAuthNotConfigured extends Schema.TaggedError<OAuthNotConfigured>()(
  "OAuthNotConfigured",
  { provider: OAuthProviderName, setting: Schema.String },
  { httpApiStatus: 501 }
) {}

/** What the provider sent back to the redirect URI. */
export type CallbackOutcome =
  | { readonly _tag: "Code"; readonly code: string; readonly state: string }
  | { readonly _tag: "Denied"; readonly state: string | null; readonly error: string }
  | { readonly _tag: "Malformed"; readonly missing: "code" | "state" }

export const callbackOutcome = (query: Readonly<Record<string, string | undefined>>): CallbackOutcome => {
  const { code, state, error } = query
  if (error !== undefined && error !== "") return { _tag: "Denied", state: state ?? null, error }
  if (state === undefined || state === "") return { _tag: "Malformed", missing: "state" }
  if (code === undefined || code === "") return { _tag: "Malformed", missing: "code" }
  return { _tag: "Code", code, state }
}

/**
 * When each provider's access token should be renewed (PROVIDERS.md §9.4):
 * QuickBooks 1 h tokens 5 min before expiry; Square 30-day tokens once older
 * than 7 days (or 5 min before expiry, for 24 h short-lived ones); Mailchimp never.
 */
export const refreshMargin = Duration.minutes(5)
export const squareMaxTokenAge = Duration.days(7)

export type RefreshableToken = Pick<TokenSet, "obtainedAt" | "expiresAt"> & { readonly hasRefreshToken: boolean }

/** The instant from which the token should be refreshed, or null when it never should (or cannot) be. */
export const refreshDueAt = (provider: OAuthProviderName, token: RefreshableToken): Date | null => {
  if (provider === "mailchimp" || !token.hasRefreshToken) return null
  const beforeExpiry = token.expiresAt === null ? null : token.expiresAt.getTime() - Duration.toMillis(refreshMargin)
  if (provider === "quickbooks") return beforeExpiry === null ? null : new Date(beforeExpiry)
  const byAge = token.obtainedAt.getTime() + Duration.toMillis(squareMaxTokenAge)
  return new Date(beforeExpiry === null ? byAge : Math.min(byAge, beforeExpiry))
}

export const shouldRefresh = (provider: OAuthProviderName, token: RefreshableToken, now: Date): boolean => {
  const due = refreshDueAt(provider, token)
  return due !== null && now.getTime() >= due.getTime()
}

/** RFC 7636 verifier from 32+ random bytes the caller draws (keeps this module pure). */
export const codeVerifierFromBytes = (bytes: Uint8Array): string => {
  if (bytes.length < 32 || bytes.length > 96) throw new RangeError("PKCE verifier needs 32 to 96 random bytes")
  return Base64Url.encode(bytes)
}

export const isCodeVerifier = (verifier: string): boolean => /^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)

/** S256 challenge = base64url(SHA-256(verifier)) without padding. */
export const codeChallengeS256 = (verifier: string): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).pipe(
    Effect.map((digest) => Base64Url.encode(new Uint8Array(digest)))
  )
