import { Clock, Config, Context, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { Base64Url } from "effect/encoding"
import { Connection } from "../domain/Connection.ts"
import { SecretPlace } from "../domain/Credential.ts"
import { ConnectionNotFound, Unprocessable } from "../domain/Errors.ts"
import { ConnectionId, type VenueId } from "../domain/Ids.ts"
import {
  callbackOutcome,
  codeChallengeS256,
  codeVerifierFromBytes,
  OAuthNotConfigured,
  type OAuthProviderName,
  type TokenGrant
} from "../domain/OAuth.ts"
import { IncompleteOAuthCallback, InvalidOAuthState } from "../domain/OAuthErrors.ts"
import type { Principal } from "../domain/Principal.ts"
import { lifecycleOf, renewAt } from "../domain/TokenLifecycle.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { OAuthProviders } from "../ports/OAuthProvider.ts"
import { type OAuthStateBinding, OAuthStateStore } from "../ports/OAuthStateStore.ts"
import { CallLedger } from "../ports/operations/CallLedger.ts"
import { TokenStore } from "../ports/TokenStore.ts"
import { AccessTokenCheck } from "./AccessTokenCheck.ts"
import { requireManage } from "./Authorize.ts"
import type { ConnectionView } from "./Connections.ts"
import { MailchimpAudience } from "./MailchimpAudience.ts"
import { ledgered, outcomeOfCredentialCall, recordEnded } from "./operations/Ledgered.ts"
import { TokenVault } from "./TokenVault.ts"

/** How long an authorization may take from connect to callback. */
export const stateLifetime = Duration.minutes(10)

export interface OAuthStart {
  readonly authorizationUrl: string
  readonly expiresAt: Date
}

export type CallbackResult =
  | { readonly _tag: "Connected"; readonly connection: Connection }
  | {
      readonly _tag: "Denied"
      readonly provider: OAuthProviderName
      readonly venueId: VenueId
      readonly error: string
    }

export interface Revocation {
  readonly revoked: boolean
  readonly error: string | null
}

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const randomBytes = (length: number) => Effect.sync(() => crypto.getRandomValues(new Uint8Array(length)))

const sha256 = (text: string) =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).pipe(
    Effect.map((digest) => new Uint8Array(digest))
  )

const callbackPath = (provider: OAuthProviderName) => `/api/v1/integrations/oauth/callback/${provider}`

/** The provider's error code only if it looks like one; anything else is not echoed. */
const errorCode = (error: string) => (/^[a-z_]{1,64}$/.test(error) ? error : "authorization_failed")

/**
 * OAuth connection use cases: start an authorization, finish it on the
 * callback, refresh on demand, reconnect and disconnect (with revocation).
 * `PUBLIC_BASE_URL` builds the redirect URI. The token endpoint calls made
 * here (code exchange, revocation) are in the call ledger as `oauth_exchange`
 * and `oauth_revoke` of their connection; a refresh, by the TokenVault.
 */
export class OAuthConnections extends Context.Service<OAuthConnections>()(
  "integration-service/application/OAuthConnections",
  {
    make: Effect.gen(function* () {
      const providers = yield* OAuthProviders
      const states = yield* OAuthStateStore
      const tokens = yield* TokenStore
      const connections = yield* ConnectionStore
      const vault = yield* CredentialVault
      const tokenVault = yield* TokenVault
      const accessTokenCheck = yield* AccessTokenCheck
      const audience = yield* MailchimpAudience
      const publicBaseUrl = yield* Config.option(Config.String("PUBLIC_BASE_URL"))
      const ledger = yield* Effect.serviceOption(CallLedger)

      const redirectUri = (provider: OAuthProviderName) =>
        Option.match(
          Option.filter(publicBaseUrl, (u) => u.trim() !== ""),
          {
            onNone: () => Effect.fail(new OAuthNotConfigured({ provider, setting: "PUBLIC_BASE_URL" })),
            onSome: (base) => Effect.succeed(new URL(callbackPath(provider), base).toString())
          }
        )

      const existing = Effect.fnUntraced(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        const found = yield* connections.find(principal.tenantId, venueId, provider)
        return yield* Option.match(found, {
          onNone: () => Effect.fail(new ConnectionNotFound({ provider, venueId })),
          onSome: Effect.succeed
        })
      })

      const view = Effect.fnUntraced(function* (connection: Connection) {
        return {
          connection,
          health: yield* connections.health(connection.tenantId, connection.id)
        } satisfies ConnectionView
      })

      const connect = Effect.fn("OAuthConnections.connect")(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
        yield* requireManage(principal, venueId)
        const client = yield* providers.get(provider)
        const uri = yield* redirectUri(provider)
        const state = Base64Url.encode(yield* randomBytes(32))
        const verifier = client.supportsPkce ? codeVerifierFromBytes(yield* randomBytes(32)) : null
        const expiresAt = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(stateLifetime))
        yield* states.issue({
          stateHash: yield* sha256(state),
          tenantId: principal.tenantId,
          venueId,
          provider,
          userId: principal.userId,
          codeVerifier: verifier === null ? null : Redacted.make(verifier),
          redirectUri: uri,
          expiresAt
        })
        const authorizationUrl = client.authorizationUrl({
          state,
          redirectUri: uri,
          codeChallenge: verifier === null ? null : yield* codeChallengeS256(verifier)
        })
        return { authorizationUrl, expiresAt } satisfies OAuthStart
      })

      /** The user declined at the provider: a connection that is not connected records why; a connected one is left alone. */
      const recordDenial = Effect.fnUntraced(function* (binding: OAuthStateBinding, error: string) {
        const at = yield* now
        const reason = `authorization ${errorCode(error)} by the user`
        const found = yield* connections.find(binding.tenantId, binding.venueId, binding.provider)
        if (Option.isSome(found)) {
          if (found.value.status !== "connected")
            yield* connections.setStatus(binding.tenantId, found.value.id, found.value.status, reason, at)
          return
        }
        yield* connections.saveConnected(
          new Connection({
            id: ConnectionId.make(crypto.randomUUID()),
            tenantId: binding.tenantId,
            venueId: binding.venueId,
            provider: binding.provider,
            authType: "oauth2",
            status: "disconnected",
            accountId: null,
            accountName: null,
            livemode: null,
            lastError: reason,
            connectedAt: null,
            disconnectedAt: at,
            createdAt: at,
            updatedAt: at
          }),
          []
        )
      })

      const place = (binding: OAuthStateBinding, field: "access_token" | "refresh_token") =>
        new SecretPlace({ tenantId: binding.tenantId, venueId: binding.venueId, provider: binding.provider, field })

      const storeGrant = Effect.fnUntraced(function* (binding: OAuthStateBinding, grant: TokenGrant) {
        const at = yield* now
        const lifecycle = lifecycleOf(grant, grant.extra)
        const sealed = {
          accessToken: yield* vault.seal(place(binding, "access_token"), grant.accessToken),
          refreshToken:
            grant.refreshToken === null ? null : yield* vault.seal(place(binding, "refresh_token"), grant.refreshToken),
          lifecycle,
          renewAt: renewAt(binding.provider, lifecycle)
        }
        const previous = yield* connections.find(binding.tenantId, binding.venueId, binding.provider)
        return yield* tokens.saveGrant(
          new Connection({
            id: Option.match(previous, {
              onNone: () => ConnectionId.make(crypto.randomUUID()),
              onSome: (p) => p.id
            }),
            tenantId: binding.tenantId,
            venueId: binding.venueId,
            provider: binding.provider,
            authType: "oauth2",
            status: "connected",
            accountId: grant.accountId,
            accountName: grant.accountName,
            livemode: null,
            lastError: null,
            connectedAt: at,
            disconnectedAt: null,
            createdAt: Option.match(previous, { onNone: () => at, onSome: (p) => p.createdAt }),
            updatedAt: at
          }),
          sealed
        )
      })

      /**
       * The provider's redirect. The state is the only credential: it must be
       * one we issued for this provider, unexpired and unused, and it decides
       * tenant, venue and user. Anything else changes nothing.
       */
      const callback = Effect.fn("OAuthConnections.callback")(function* (
        provider: OAuthProviderName,
        query: Readonly<Record<string, string>>
      ) {
        yield* Effect.annotateCurrentSpan({ provider })
        const outcome = callbackOutcome(query)
        if (outcome._tag === "Malformed")
          return yield* new IncompleteOAuthCallback({ provider, missing: outcome.missing })
        if (outcome.state === null) return yield* new IncompleteOAuthCallback({ provider, missing: "state" })
        const binding = yield* states.consume(yield* sha256(outcome.state), provider)
        if (Option.isNone(binding)) return yield* new InvalidOAuthState({ provider })
        const bound = binding.value
        yield* Effect.annotateCurrentSpan({ "venue.id": bound.venueId, "tenant.id": bound.tenantId })
        if (outcome._tag === "Denied") {
          yield* recordDenial(bound, outcome.error)
          return {
            _tag: "Denied",
            provider,
            venueId: bound.venueId,
            error: errorCode(outcome.error)
          } satisfies CallbackResult
        }
        const client = yield* providers.get(provider)
        const started = yield* Clock.currentTimeMillis
        const exchanged = yield* client
          .exchangeCode({
            code: outcome.code,
            redirectUri: bound.redirectUri,
            codeVerifier: bound.codeVerifier,
            callbackQuery: query
          })
          .pipe(
            // Nothing is stored and the state is spent: the log says why the venue is not connected.
            Effect.tapError((e) =>
              Effect.logWarning("OAuth callback failed; nothing was stored").pipe(
                Effect.annotateLogs({
                  provider,
                  "tenant.id": bound.tenantId,
                  "venue.id": bound.venueId,
                  error: e._tag,
                  reason: e.message
                })
              )
            ),
            Effect.exit
          )
        const connection = Exit.isSuccess(exchanged) ? yield* storeGrant(bound, exchanged.value) : null
        // The connection the exchange is counted for: the one it made, or, when it failed, the one the venue had.
        const counted =
          connection !== null
            ? Option.some(connection.id)
            : Option.map(
                yield* connections
                  .find(bound.tenantId, bound.venueId, provider)
                  .pipe(Effect.orElseSucceed(Option.none)),
                (c) => c.id
              )
        const answered = outcomeOfCredentialCall(exchanged)
        if (Option.isSome(counted) && answered !== null)
          yield* recordEnded(ledger, { provider, connectionId: counted.value }, "oauth_exchange", answered, started)
        if (Exit.isFailure(exchanged)) return yield* Effect.failCause(exchanged.cause)
        return { _tag: "Connected", connection: connection! } satisfies CallbackResult
      })

      const oauthConnection = Effect.fnUntraced(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* requireManage(principal, venueId)
        const connection = yield* existing(principal, venueId, provider)
        if (connection.authType !== "oauth2")
          return yield* new Unprocessable({ field: "provider", message: `${provider} is not an OAuth connection` })
        return connection
      })

      /** A pair without a refresh token (Mailchimp's never expire) cannot be renewed, only checked. */
      const renewable = Effect.fnUntraced(function* (connection: Connection) {
        const stored = yield* tokens.read(connection.tenantId, connection.id)
        return Option.isSome(stored) && stored.value.lifecycle.hasRefreshToken
      })

      /** The token against the provider's API, as a health sample; a refusal (now needs_reauth) or outage fails. */
      const verified = Effect.fnUntraced(function* (connection: Connection) {
        const { failure } = yield* accessTokenCheck.check(connection, "reconnect")
        if (failure !== null) return yield* Effect.fail(failure)
      })

      /** Refresh and reconnect: a refresh where the provider has one, and the token checked at the provider. */
      const renewed = Effect.fnUntraced(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName,
        check: "always" | "when not renewable"
      ) {
        const connection = yield* oauthConnection(principal, venueId, provider)
        let expiresAt: Date | null = null
        const renew = yield* renewable(connection)
        if (renew) expiresAt = (yield* tokenVault.refresh(connection)).expiresAt
        if (check === "always" || !renew) yield* verified(connection)
        const current = yield* existing(principal, venueId, provider)
        return { view: yield* view(current), expiresAt }
      })

      /**
       * POST /oauth/refresh: a refresh now, through the vault's one path. A pair that cannot be refreshed is
       * checked at the provider instead, so the answer never claims what nobody asked.
       */
      const refresh = Effect.fn("OAuthConnections.refresh")(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
        return yield* renewed(principal, venueId, provider, "when not renewable")
      })

      /** POST /reconnect: a refresh where the provider has one, then the token proves itself at the provider's API. */
      const reconnect = Effect.fn("OAuthConnections.reconnect")(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
        return yield* renewed(principal, venueId, provider, "always")
      })

      /**
       * Removes Mailchimp's audience webhook, revokes at the provider (Square, QuickBooks; Mailchimp has no
       * revocation and says so), then deletes the ciphertexts whatever the
       * provider said: a failed revocation is reported, never a reason to keep secrets.
       */
      const disconnect = Effect.fn("OAuthConnections.disconnect")(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
        const connection = yield* oauthConnection(principal, venueId, provider)
        // Mailchimp's audience webhook goes while the token still opens the account.
        yield* audience.forget(connection)
        const revocation = yield* revoke(connection)
        const at = yield* now
        yield* tokens.remove(connection.tenantId, connection.id, at)
        const disconnected = new Connection({
          ...connection,
          status: "disconnected",
          disconnectedAt: at,
          updatedAt: at,
          lastError: null
        })
        return { view: yield* view(disconnected), revocation }
      })

      const revoke = (connection: Connection) =>
        Effect.gen(function* () {
          const stored = yield* tokens.read(connection.tenantId, connection.id)
          if (Option.isNone(stored)) return { revoked: false, error: "no tokens were stored" } satisfies Revocation
          const s = stored.value
          const client = yield* providers.get(s.provider)
          const pair = {
            accessToken: yield* vault.open(
              new SecretPlace({
                tenantId: s.tenantId,
                venueId: s.venueId,
                provider: s.provider,
                field: "access_token"
              }),
              s.accessToken
            ),
            refreshToken:
              s.refreshToken === null
                ? null
                : yield* vault.open(
                    new SecretPlace({
                      tenantId: s.tenantId,
                      venueId: s.venueId,
                      provider: s.provider,
                      field: "refresh_token"
                    }),
                    s.refreshToken
                  )
          }
          // Mailchimp has no revocation: it answers without a call, which is not counted.
          const outcome = yield* ledgered(
            ledger,
            { provider: s.provider, connectionId: connection.id },
            "oauth_revoke",
            client.revoke(pair),
            (exit) => (Exit.isSuccess(exit) && !exit.value.revoked ? null : outcomeOfCredentialCall(exit))
          )
          return (
            outcome.revoked ? { revoked: true, error: null } : { revoked: false, error: outcome.reason }
          ) satisfies Revocation
        }).pipe(
          Effect.catch((e: { readonly _tag: string; readonly message?: string }) =>
            Effect.logWarning("revocation failed; local credentials are deleted anyway").pipe(
              Effect.annotateLogs({ "connection.id": connection.id, error: e._tag }),
              Effect.as({
                revoked: false,
                error:
                  e._tag === "ProviderUnavailable" || e._tag === "OAuthGrantRejected" ? (e.message ?? e._tag) : e._tag
              } satisfies Revocation)
            )
          )
        )

      return { connect, callback, refresh, reconnect, disconnect }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
