import { Clock, Context, Effect, Layer, Redacted, Ref } from "effect"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import {
  codeChallengeS256,
  defaultScopes,
  mailchimpNoRevocation,
  OAuthGrantRejected,
  type OAuthProviderName,
  type TokenGrant,
  type TokenSet
} from "../../domain/OAuth.ts"
import {
  type AccessTokenProbe,
  type AuthorizationRequest,
  type CodeExchange,
  type OAuthProvider,
  OAuthProviders,
  type TokenRevocation
} from "../../ports/OAuthProvider.ts"

export type MemoryOAuthFailure = "invalid_grant" | "server_error" | "rate_limited" | "timeout"

export interface MemoryOAuthStats {
  readonly authorizations: number
  readonly exchanges: number
  readonly refreshes: number
  readonly revocations: number
  /** Refreshes presented with a refresh token that had already been rotated away. */
  readonly staleRefreshes: number
}

/** Steers the in-memory providers from tests: plays the user at the consent page, injects failures, moves time. */
export class MemoryOAuthControl extends Context.Service<
  MemoryOAuthControl,
  {
    /** Approves (or denies) an authorization URL; returns the query the provider would redirect with. */
    readonly consent: (
      authorizationUrl: string,
      choice?: { readonly deny?: boolean }
    ) => Effect.Effect<Record<string, string>>
    /** The next `times` token or revoke calls to `provider` fail this way. */
    readonly fail: (provider: OAuthProviderName, mode: MemoryOAuthFailure, times?: number) => Effect.Effect<void>
    readonly stats: (provider: OAuthProviderName) => Effect.Effect<MemoryOAuthStats>
    /** Ages codes and tokens, as if this much time had passed at the provider. */
    readonly advance: (millis: number) => Effect.Effect<void>
  }
>()("integration-service/adapters/memory/MemoryOAuthControl") {}

interface Code {
  readonly provider: OAuthProviderName
  readonly redirectUri: string
  readonly challenge: string | null
  readonly scopes: ReadonlyArray<string>
  readonly issuedAt: number
}

interface Grant {
  readonly id: string
  readonly provider: OAuthProviderName
  readonly pkce: boolean
  readonly scopes: ReadonlyArray<string>
  readonly current: string | null
  readonly retired: ReadonlyArray<string>
  readonly revoked: boolean
}

interface State {
  readonly codes: ReadonlyMap<string, Code>
  readonly grants: ReadonlyArray<Grant>
  /** Every access token issued, and the id of the grant it belongs to. */
  readonly accessTokens: ReadonlyMap<string, string>
  readonly failures: ReadonlyMap<OAuthProviderName, { readonly mode: MemoryOAuthFailure; readonly remaining: number }>
  readonly stats: ReadonlyMap<OAuthProviderName, MemoryOAuthStats>
  readonly offset: number
}

const DAY = 86_400_000
const codeLifetime = 5 * 60_000
const emptyStats: MemoryOAuthStats = {
  authorizations: 0,
  exchanges: 0,
  refreshes: 0,
  revocations: 0,
  staleRefreshes: 0
}
const names: ReadonlyArray<OAuthProviderName> = ["square", "quickbooks", "mailchimp"]

const randomToken = (prefix: string) =>
  `${prefix}${Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => b.toString(16).padStart(2, "0")).join("")}`

/** The same lifetimes and rotation rules as the real providers (PROVIDERS.md §1a). */
const lifetimes = (provider: OAuthProviderName, now: number) =>
  provider === "quickbooks"
    ? { expiresAt: new Date(now + 3_600_000), refreshTokenExpiresAt: new Date(now + 8_726_400_000) }
    : provider === "square"
      ? { expiresAt: new Date(now + 30 * DAY), refreshTokenExpiresAt: null }
      : { expiresAt: null, refreshTokenExpiresAt: null }

const accounts: Record<OAuthProviderName, Pick<TokenGrant, "accountId" | "accountName" | "extra">> = {
  square: { accountId: "MLMEMORYMERCHANT", accountName: "Memory Square Venue", extra: {} },
  quickbooks: { accountId: "9130000000000001", accountName: "Memory QuickBooks Venue", extra: {} },
  mailchimp: {
    accountId: "us1:1001",
    accountName: "Memory Mailchimp Venue",
    extra: { dc: "us1", apiEndpoint: "https://us1.api.mailchimp.com" }
  }
}

const make = Effect.gen(function* () {
  const state = yield* Ref.make<State>({
    codes: new Map(),
    grants: [],
    accessTokens: new Map(),
    failures: new Map(),
    stats: new Map(names.map((n) => [n, emptyStats])),
    offset: 0
  })
  const now = Effect.zipWith(Clock.currentTimeMillis, Ref.get(state), (t, s) => t + s.offset)

  const count = (provider: OAuthProviderName, field: keyof MemoryOAuthStats) =>
    Ref.update(state, (s) => {
      const current = s.stats.get(provider) ?? emptyStats
      return { ...s, stats: new Map(s.stats).set(provider, { ...current, [field]: current[field] + 1 }) }
    })

  /** Consumes one injected failure, if any, and turns it into the error a real client would raise. */
  const injected = (provider: OAuthProviderName) =>
    Effect.gen(function* () {
      const failure = yield* Ref.modify(state, (s) => {
        const f = s.failures.get(provider)
        if (f === undefined) return [undefined, s] as const
        const failures = new Map(s.failures)
        if (f.remaining <= 1) failures.delete(provider)
        else failures.set(provider, { ...f, remaining: f.remaining - 1 })
        return [f.mode, { ...s, failures }] as const
      })
      if (failure === "invalid_grant")
        return yield* new OAuthGrantRejected({
          provider,
          code: "invalid_grant",
          message: "the grant was refused (invalid_grant)"
        })
      if (failure === "server_error")
        return yield* new ProviderUnavailable({ provider, message: `${provider} OAuth answered 500`, retryable: true })
      if (failure === "rate_limited")
        return yield* new ProviderUnavailable({ provider, message: `${provider} OAuth answered 429`, retryable: true })
      if (failure === "timeout")
        return yield* new ProviderUnavailable({ provider, message: `${provider} OAuth timed out`, retryable: true })
    })

  const rejected = (provider: OAuthProviderName, code: string) =>
    new OAuthGrantRejected({ provider, code, message: `the grant was refused (${code})` })

  const issue = (grant: Grant, at: number) =>
    Effect.gen(function* () {
      const accessToken = randomToken("mem-at-")
      yield* Ref.update(state, (s) => ({ ...s, accessTokens: new Map(s.accessTokens).set(accessToken, grant.id) }))
      return {
        accessToken: Redacted.make(accessToken),
        refreshToken: grant.current === null ? null : Redacted.make(grant.current),
        obtainedAt: new Date(at),
        ...lifetimes(grant.provider, at),
        scopes: grant.scopes
      } satisfies TokenSet
    })

  const providerFor = (provider: OAuthProviderName): OAuthProvider => ({
    provider,
    supportsPkce: provider === "square",
    scopes: defaultScopes[provider],
    authorizationUrl: (request: AuthorizationRequest) => {
      const url = new URL(`memory://oauth/${provider}/authorize`)
      url.searchParams.set("state", request.state)
      url.searchParams.set("redirect_uri", request.redirectUri)
      url.searchParams.set("scope", (request.scopes ?? defaultScopes[provider]).join(" "))
      if (provider === "square" && request.codeChallenge !== null)
        url.searchParams.set("code_challenge", request.codeChallenge)
      return url.toString()
    },

    exchangeCode: Effect.fn("MemoryOAuthProvider.exchangeCode")(function* (exchange: CodeExchange) {
      if (provider === "quickbooks" && !exchange.callbackQuery.realmId)
        return yield* rejected(provider, "missing_realm_id")
      yield* count(provider, "exchanges")
      yield* injected(provider)
      const at = yield* now
      const code = yield* Ref.modify(state, (s) => {
        const found = s.codes.get(exchange.code)
        const codes = new Map(s.codes)
        codes.delete(exchange.code)
        return [found, { ...s, codes }] as const
      })
      if (code === undefined || code.provider !== provider || at - code.issuedAt > codeLifetime)
        return yield* rejected(provider, "invalid_grant")
      if (code.redirectUri !== exchange.redirectUri) return yield* rejected(provider, "invalid_grant")
      if (code.challenge !== null) {
        const verifier = exchange.codeVerifier
        const challenge = verifier === null ? null : yield* codeChallengeS256(Redacted.value(verifier))
        if (challenge !== code.challenge) return yield* rejected(provider, "invalid_grant")
      }
      const grant: Grant = {
        id: crypto.randomUUID(),
        provider,
        pkce: code.challenge !== null,
        scopes: code.scopes,
        current: provider === "mailchimp" ? null : randomToken("mem-rt-"),
        retired: [],
        revoked: false
      }
      yield* Ref.update(state, (s) => ({ ...s, grants: [...s.grants, grant] }))
      return { ...(yield* issue(grant, at)), ...accounts[provider] } satisfies TokenGrant
    }),

    refresh: Effect.fn("MemoryOAuthProvider.refresh")(function* (refreshToken: Redacted.Redacted<string>) {
      if (provider === "mailchimp") return yield* rejected(provider, "unsupported_grant_type")
      yield* count(provider, "refreshes")
      yield* injected(provider)
      const at = yield* now
      const presented = Redacted.value(refreshToken)
      const s = yield* Ref.get(state)
      const grant = s.grants.find((g) => g.provider === provider && g.current === presented)
      if (grant === undefined || grant.revoked) {
        if (s.grants.some((g) => g.retired.includes(presented))) yield* count(provider, "staleRefreshes")
        return yield* rejected(provider, "invalid_grant")
      }
      // QuickBooks always rotates; Square only for PKCE grants.
      const rotates = provider === "quickbooks" || grant.pkce
      const next: Grant = rotates
        ? { ...grant, current: randomToken("mem-rt-"), retired: [...grant.retired, presented] }
        : grant
      yield* Ref.update(state, (st) => ({ ...st, grants: st.grants.map((g) => (g === grant ? next : g)) }))
      return yield* issue(next, at)
    }),

    verifyAccessToken: Effect.fn("MemoryOAuthProvider.verifyAccessToken")(function* (probe: AccessTokenProbe) {
      const s = yield* Ref.get(state)
      const grantId = s.accessTokens.get(Redacted.value(probe.accessToken))
      const grant = s.grants.find((g) => g.id === grantId && g.provider === provider)
      if (grant === undefined || grant.revoked) return yield* rejected(provider, "invalid_token")
      if (provider === "quickbooks" && probe.accountId !== accounts.quickbooks.accountId)
        return yield* new ProviderUnavailable({ provider, message: "QuickBooks answered 403", retryable: false })
    }),

    revoke: Effect.fn("MemoryOAuthProvider.revoke")(function* (_tokens: TokenRevocation) {
      if (provider === "mailchimp") return { revoked: false, reason: mailchimpNoRevocation } as const
      yield* count(provider, "revocations")
      yield* injected(provider)
      yield* Ref.update(state, (s) => ({
        ...s,
        grants: s.grants.map((g) => (g.provider === provider ? { ...g, revoked: true } : g))
      }))
      return { revoked: true } as const
    })
  })

  const registry: Record<OAuthProviderName, OAuthProvider> = {
    square: providerFor("square"),
    quickbooks: providerFor("quickbooks"),
    mailchimp: providerFor("mailchimp")
  }

  const control = MemoryOAuthControl.of({
    consent: (authorizationUrl, choice = {}) =>
      Effect.gen(function* () {
        const url = new URL(authorizationUrl)
        const provider = names.find((n) => url.host === "oauth" && url.pathname === `/${n}/authorize`)
        if (provider === undefined) return yield* Effect.die(new Error("not a memory authorization URL"))
        yield* count(provider, "authorizations")
        const q = url.searchParams
        const csrf = q.get("state") ?? ""
        if (choice.deny === true) return { error: "access_denied", state: csrf }
        const code = randomToken("mem-code-")
        const issuedAt = yield* now
        yield* Ref.update(state, (s) => ({
          ...s,
          codes: new Map(s.codes).set(code, {
            provider,
            redirectUri: q.get("redirect_uri") ?? "",
            challenge: q.get("code_challenge"),
            scopes: (q.get("scope") ?? "").split(" ").filter((x) => x !== ""),
            issuedAt
          })
        }))
        return provider === "quickbooks"
          ? { code, state: csrf, realmId: accounts.quickbooks.accountId }
          : { code, state: csrf }
      }),
    fail: (provider, mode, times = 1) =>
      Ref.update(state, (s) => ({ ...s, failures: new Map(s.failures).set(provider, { mode, remaining: times }) })),
    stats: (provider) => Effect.map(Ref.get(state), (s) => s.stats.get(provider) ?? emptyStats),
    advance: (millis) => Ref.update(state, (s) => ({ ...s, offset: s.offset + millis }))
  })

  return Context.make(
    OAuthProviders,
    OAuthProviders.of({
      get: (provider) => Effect.succeed(registry[provider])
    })
  ).pipe(Context.add(MemoryOAuthControl, control))
})

export const MemoryOAuthProvider = {
  /** In-memory Square, QuickBooks and Mailchimp OAuth servers, with `MemoryOAuthControl` to play the user. */
  layer: Layer.effectContext(make)
}
