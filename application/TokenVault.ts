import { Clock, Context, Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { SecretPlace } from "../domain/Credential.ts"
import {
  type KeyManagementUnavailable,
  type ProviderUnavailable,
  type SecretUnreadable,
  StoreUnavailable
} from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"
import { type OAuthNotConfigured, type OAuthProviderName, shouldRefresh, type TokenSet } from "../domain/OAuth.ts"
import { ReauthorizationRequired, TokensMissing } from "../domain/OAuthErrors.ts"
import { isExpired, lifecycleOf, renewAt, type TokenLifecycle } from "../domain/TokenLifecycle.ts"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { OAuthProviders } from "../ports/OAuthProvider.ts"
import { CallLedger } from "../ports/operations/CallLedger.ts"
import { type SealedTokens, type StoredTokens, TokenStore } from "../ports/TokenStore.ts"
import { makeKeyedLock } from "./KeyedLock.ts"
import { recordTokenRefresh } from "./Metrics.ts"
import { NeedsReauth } from "./NeedsReauth.ts"
import { ledgered, outcomeOfCredentialCall } from "./operations/Ledgered.ts"

export interface AccessToken {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: Date | null
  /** Mailchimp's datacenter and API base. */
  readonly extra: TokenLifecycle["extra"]
}

export interface ConnectionRef {
  readonly tenantId: TenantId
  readonly id: ConnectionId
}

export type TokenError =
  | ReauthorizationRequired
  | TokensMissing
  | ProviderUnavailable
  | OAuthNotConfigured
  | StoreUnavailable
  | SecretUnreadable
  | KeyManagementUnavailable

/** Transient token-endpoint failures (5xx, 429, timeouts): exponential with jitter, 4 attempts in all. */
export const refreshRetry = Schedule.exponential("150 millis").pipe(Schedule.jittered)
const refreshAttempts = 3

/** A pair as sealed into a pending row: one secret holding both tokens and their clock. */
const PendingPair = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.NullOr(Schema.String),
  obtainedAt: Schema.String,
  expiresAt: Schema.NullOr(Schema.String),
  refreshTokenExpiresAt: Schema.NullOr(Schema.String),
  scopes: Schema.Array(Schema.String)
})
const decodePendingPair = Schema.decodeUnknownEffect(Schema.fromJsonString(PendingPair))

/** The plaintext pair the vault is working with inside the lock. */
interface Pair {
  readonly accessToken: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string> | null
  readonly lifecycle: TokenLifecycle
}

type Outcome =
  | { readonly _tag: "Token"; readonly token: AccessToken }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "NeedsReauth"; readonly error: ReauthorizationRequired }
  | { readonly _tag: "Transient"; readonly error: ProviderUnavailable; readonly usable: Option.Option<AccessToken> }

const toAccess = (pair: Pair): AccessToken => ({
  token: pair.accessToken,
  expiresAt: pair.lifecycle.expiresAt,
  extra: pair.lifecycle.extra
})

/** `due`: the access token is about to expire; `renew`: also when its background renewal is due; `force`: always. */
type Mode = "due" | "renew" | "force"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

/**
 * The one place that hands out OAuth access tokens, refreshing them when due
 * (domain/OAuth.ts `shouldRefresh`). Exactly one refresh per connection runs
 * at a time across every process: the refresh happens inside
 * `TokenStore.locked` (a row lock in PostgreSQL), and whoever gets the lock
 * next re-reads the pair and finds it fresh. Inside one process callers of
 * the same connection also queue on a semaphore, so they wait without each
 * holding a database connection. A rotated pair is committed on its own
 * (`savePending`) before the main write, and a later refresh promotes it if
 * that write never committed, so a rotated refresh token is never lost.
 * `invalid_grant` marks the connection needs_reauth and publishes
 * `connection.needs_reauth` in the same transaction (`NeedsReauth`); nothing refreshes it
 * again until the venue reconnects. Transient failures retry on
 * `refreshRetry` and never change the status; while the old access token is
 * still valid, callers keep getting it.
 */
export class TokenVault extends Context.Service<TokenVault>()("integration-service/application/TokenVault", {
  make: Effect.gen(function* () {
    const store = yield* TokenStore
    const vault = yield* CredentialVault
    const providers = yield* OAuthProviders
    const ledger = yield* Effect.serviceOption(CallLedger)
    const reauth = yield* NeedsReauth

    // One mutex per connection with callers in flight; it goes away with the last of them.
    const { withLock: gate } = yield* makeKeyedLock<ConnectionId>()

    const place = (stored: StoredTokens, field: "access_token" | "refresh_token") =>
      new SecretPlace({ tenantId: stored.tenantId, venueId: stored.venueId, provider: stored.provider, field })

    const openStored = Effect.fnUntraced(function* (stored: StoredTokens) {
      return {
        accessToken: yield* vault.open(place(stored, "access_token"), stored.accessToken),
        refreshToken:
          stored.refreshToken === null ? null : yield* vault.open(place(stored, "refresh_token"), stored.refreshToken),
        lifecycle: stored.lifecycle
      } satisfies Pair
    })

    const openPending = Effect.fnUntraced(function* (stored: StoredTokens, sealed: StoredTokens["accessToken"]) {
      const json = yield* vault.open(place(stored, "refresh_token"), sealed)
      const pair = yield* decodePendingPair(Redacted.value(json)).pipe(
        Effect.mapError(() => new StoreUnavailable({ message: "a pending token pair does not decode" }))
      )
      return {
        accessToken: Redacted.make(pair.accessToken),
        refreshToken: pair.refreshToken === null ? null : Redacted.make(pair.refreshToken),
        lifecycle: {
          obtainedAt: new Date(pair.obtainedAt),
          expiresAt: pair.expiresAt === null ? null : new Date(pair.expiresAt),
          refreshTokenExpiresAt: pair.refreshTokenExpiresAt === null ? null : new Date(pair.refreshTokenExpiresAt),
          hasRefreshToken: pair.refreshToken !== null,
          scopes: pair.scopes,
          extra: stored.lifecycle.extra
        }
      } satisfies Pair
    })

    const sealPending = (stored: StoredTokens, pair: Pair) =>
      vault.seal(
        place(stored, "refresh_token"),
        Redacted.make(
          JSON.stringify({
            accessToken: Redacted.value(pair.accessToken),
            refreshToken: pair.refreshToken === null ? null : Redacted.value(pair.refreshToken),
            obtainedAt: pair.lifecycle.obtainedAt.toISOString(),
            expiresAt: pair.lifecycle.expiresAt?.toISOString() ?? null,
            refreshTokenExpiresAt: pair.lifecycle.refreshTokenExpiresAt?.toISOString() ?? null,
            scopes: pair.lifecycle.scopes
          } satisfies typeof PendingPair.Type)
        )
      )

    const sealPair = Effect.fnUntraced(function* (stored: StoredTokens, pair: Pair) {
      return {
        accessToken: yield* vault.seal(place(stored, "access_token"), pair.accessToken),
        refreshToken:
          pair.refreshToken === null ? null : yield* vault.seal(place(stored, "refresh_token"), pair.refreshToken),
        lifecycle: pair.lifecycle,
        renewAt: renewAt(stored.provider, pair.lifecycle)
      } satisfies SealedTokens
    })

    const due = (provider: OAuthProviderName, lifecycle: TokenLifecycle, at: Date) =>
      shouldRefresh(provider, lifecycle, at)

    /** Re-checked under the lock: whoever held it before may have refreshed already. */
    const wanted = (mode: Mode, provider: OAuthProviderName, lifecycle: TokenLifecycle, at: Date) => {
      if (mode === "force") return true
      if (due(provider, lifecycle, at)) return true
      const renew = renewAt(provider, lifecycle)
      return mode === "renew" && renew !== null && renew.getTime() <= at.getTime()
    }

    /** A refreshed TokenSet over the pair it replaces: a provider that sends no refresh token keeps the old one. */
    const refreshed = (previous: Pair, tokens: TokenSet): Pair => {
      const refreshToken = tokens.refreshToken ?? previous.refreshToken
      return {
        accessToken: tokens.accessToken,
        refreshToken,
        lifecycle: {
          ...lifecycleOf(tokens, previous.lifecycle.extra),
          hasRefreshToken: refreshToken !== null,
          refreshTokenExpiresAt: tokens.refreshTokenExpiresAt ?? previous.lifecycle.refreshTokenExpiresAt
        }
      }
    }

    /** One attempt under the lock. Every path succeeds with an outcome, so what it wrote commits. */
    const underLock = (ref: ConnectionRef, mode: Mode) =>
      store.locked(ref.tenantId, ref.id, (current) =>
        Effect.gen(function* () {
          if (Option.isNone(current)) return { _tag: "Missing" } satisfies Outcome
          const stored = current.value
          const needsReauth = (reason: string): Outcome => ({
            _tag: "NeedsReauth",
            error: new ReauthorizationRequired({ provider: stored.provider, venueId: stored.venueId, reason })
          })
          if (stored.status === "needs_reauth") return needsReauth("the venue must authorize again")
          if (stored.status !== "connected") return { _tag: "Missing" } satisfies Outcome
          const at = yield* now
          let version = stored.version
          let pair: Pair
          const newest = stored.pending[0]
          if (newest !== undefined) {
            // A refresh rotated this pair but its main write never committed: it is the newest pair.
            pair = yield* openPending(stored, newest.sealed)
            yield* store.replace(stored.tenantId, stored.connectionId, version, yield* sealPair(stored, pair))
            version += 1
            yield* Effect.logInfo("promoted a pending token pair").pipe(
              Effect.annotateLogs({ "connection.id": stored.connectionId })
            )
          } else {
            pair = yield* openStored(stored)
          }
          if (!wanted(mode, stored.provider, pair.lifecycle, at))
            return { _tag: "Token", token: toAccess(pair) } satisfies Outcome
          if (pair.refreshToken === null) {
            return isExpired(pair.lifecycle, at)
              ? needsReauth("the token expired and there is no refresh token")
              : ({ _tag: "Token", token: toAccess(pair) } satisfies Outcome)
          }

          const provider = yield* providers.get(stored.provider)
          // The one place a refresh reaches the provider, whoever asked (the sweep, a sync, a health check, a route).
          const result = yield* Effect.result(
            ledgered(
              ledger,
              { provider: stored.provider, connectionId: stored.connectionId },
              "oauth_refresh",
              provider.refresh(pair.refreshToken).pipe(recordTokenRefresh(stored.provider)),
              outcomeOfCredentialCall
            )
          )
          if (result._tag === "Failure") {
            const failure = result.failure
            if (failure._tag === "ProviderUnavailable")
              return {
                _tag: "Transient",
                error: failure,
                usable: isExpired(pair.lifecycle, at) ? Option.none() : Option.some(toAccess(pair))
              } satisfies Outcome
            const reason = `${stored.provider} refused the refresh token (${failure.code}); connect again`
            yield* reauth.mark(stored, { code: failure.code, message: reason, source: "refresh" })
            return needsReauth(reason)
          }
          const next = refreshed(pair, result.success)
          // Committed before anything else: if the main write below is lost, the next refresh starts from here.
          yield* store.savePending(stored.tenantId, stored.connectionId, version, yield* sealPending(stored, next))
          yield* store.replace(stored.tenantId, stored.connectionId, version, yield* sealPair(stored, next))
          return { _tag: "Token", token: toAccess(next) } satisfies Outcome
        })
      )

    type Transient = Extract<Outcome, { readonly _tag: "Transient" }>
    const fromOutcome =
      (ref: ConnectionRef) =>
      (outcome: Outcome): Effect.Effect<AccessToken, TokensMissing | ReauthorizationRequired | Transient> => {
        switch (outcome._tag) {
          case "Token":
            return Effect.succeed(outcome.token)
          case "Missing":
            return Effect.fail(new TokensMissing({ connectionId: ref.id }))
          case "NeedsReauth":
            return Effect.fail(outcome.error)
          case "Transient":
            return Effect.fail(outcome)
        }
      }

    const refreshPath = (ref: ConnectionRef, mode: Mode) =>
      Effect.gen(function* () {
        let lastUsable: Option.Option<AccessToken> = Option.none()
        return yield* underLock(ref, mode).pipe(
          Effect.flatMap(fromOutcome(ref)),
          Effect.tapError((e) =>
            Effect.sync(() => {
              if (e._tag === "Transient") lastUsable = e.usable
            })
          ),
          Effect.retry({
            schedule: refreshRetry,
            times: refreshAttempts,
            while: (e) => e._tag === "Transient" && e.error.retryable
          }),
          Effect.catchIf(
            (e): e is Transient => e._tag === "Transient",
            (e) =>
              Option.match(lastUsable, {
                onNone: () => Effect.fail(e.error),
                onSome: (token) =>
                  Effect.logWarning("token refresh failed; the current access token is still valid").pipe(
                    Effect.annotateLogs({ "connection.id": ref.id, error: e.error.message }),
                    Effect.as(token)
                  )
              })
          )
        )
      })

    const accessToken = Effect.fn("TokenVault.accessToken")(function* (ref: ConnectionRef) {
      yield* Effect.annotateCurrentSpan({ "connection.id": ref.id })
      const stored = yield* store.read(ref.tenantId, ref.id)
      if (Option.isSome(stored) && stored.value.status === "connected" && stored.value.pending.length === 0) {
        const s = stored.value
        if (!due(s.provider, s.lifecycle, yield* now)) return toAccess(yield* openStored(s))
      }
      return yield* gate(ref.id)(refreshPath(ref, "due"))
    })

    const refresh = Effect.fn("TokenVault.refresh")(function* (ref: ConnectionRef) {
      yield* Effect.annotateCurrentSpan({ "connection.id": ref.id })
      return yield* gate(ref.id)(refreshPath(ref, "force"))
    })

    const renew = Effect.fn("TokenVault.renew")(function* (ref: ConnectionRef) {
      yield* Effect.annotateCurrentSpan({ "connection.id": ref.id })
      return yield* gate(ref.id)(refreshPath(ref, "renew"))
    })

    const typed = (f: (ref: ConnectionRef) => Effect.Effect<AccessToken, TokenError>) => f
    return {
      /** A usable access token for the connection, refreshed first when it is due. */
      accessToken: typed(accessToken),
      /** Refreshes now, whatever the clock says (the refresh endpoint, reconnect). */
      refresh: typed(refresh),
      /** Refreshes if due or if its background renewal is due (the background refresher). */
      renew: typed(renew)
    }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
