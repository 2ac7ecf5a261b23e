import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Connection } from "../domain/Connection.ts"
import { ConnectionNotFound, type ProviderUnavailable, Unprocessable } from "../domain/Errors.ts"
import { type ConnectionHealth, HealthCheck } from "../domain/Health.ts"
import type { VenueId } from "../domain/Ids.ts"
import { OAuthProviderName } from "../domain/OAuth.ts"
import { ReauthorizationRequired } from "../domain/OAuthErrors.ts"
import type { Principal } from "../domain/Principal.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { OAuthProviders } from "../ports/OAuthProvider.ts"
import { CallLedger } from "../ports/operations/CallLedger.ts"
import { requireRead } from "./Authorize.ts"
import type { TestResult } from "./Connections.ts"
import { NeedsReauth, type ReauthReason } from "./NeedsReauth.ts"
import { ledgered, outcomeOfCredentialCall } from "./operations/Ledgered.ts"
import { TokenVault } from "./TokenVault.ts"

/** One check of an OAuth connection, recorded as a health sample; `failure` says why it failed, typed. */
export interface TokenCheck {
  readonly ok: boolean
  readonly latencyMs: number
  readonly error: string | null
  readonly health: ConnectionHealth
  readonly failure: ReauthorizationRequired | ProviderUnavailable | null
}

const isOAuth = Schema.is(OAuthProviderName)

/**
 * Checks an OAuth connection the way the API will use it: an access token from `TokenVault.accessToken` (refreshed
 * first when due) and the provider's cheapest authenticated call (Square ListLocations, QuickBooks CompanyInfo,
 * Mailchimp ping). The outcome is a health sample, as for an API key; the time includes a refresh when one was due.
 * A token the provider refuses marks the connection needs_reauth through `NeedsReauth`.
 */
export class AccessTokenCheck extends Context.Service<AccessTokenCheck>()(
  "integration-service/application/AccessTokenCheck",
  {
    make: Effect.gen(function* () {
      const store = yield* ConnectionStore
      const providers = yield* OAuthProviders
      const tokenVault = yield* TokenVault
      const reauth = yield* NeedsReauth
      const ledger = yield* Effect.serviceOption(CallLedger)

      const check = Effect.fn("AccessTokenCheck.check")(function* (
        connection: Connection,
        source: ReauthReason["source"]
      ) {
        yield* Effect.annotateCurrentSpan({ "connection.id": connection.id, provider: connection.provider })
        const provider = connection.provider
        if (!isOAuth(provider))
          return yield* new Unprocessable({ field: "provider", message: `${provider} is not an OAuth connection` })
        const client = yield* providers.get(provider)
        const started = yield* Clock.currentTimeMillis
        const attempt = yield* Effect.result(
          Effect.flatMap(tokenVault.accessToken({ tenantId: connection.tenantId, id: connection.id }), (token) =>
            // The refresh, when one was due, is counted by the TokenVault; this is the check's own call.
            ledgered(
              ledger,
              { provider, connectionId: connection.id },
              source === "reconnect" ? "reconnect_check" : "health_check",
              client.verifyAccessToken({
                accessToken: token.token,
                accountId: connection.accountId,
                extra: token.extra
              }),
              outcomeOfCredentialCall
            )
          )
        )
        const at = yield* Clock.currentTimeMillis
        let failure: TokenCheck["failure"] = null
        if (attempt._tag === "Failure") {
          const error = attempt.failure
          switch (error._tag) {
            case "OAuthGrantRejected": {
              const message = `${error.message}; connect again`
              yield* reauth.mark({ ...connection, connectionId: connection.id }, {
                code: error.code,
                message,
                source
              } satisfies ReauthReason)
              failure = new ReauthorizationRequired({ provider, venueId: connection.venueId, reason: message })
              break
            }
            case "ReauthorizationRequired":
            case "ProviderUnavailable":
              failure = error
              break
            default:
              return yield* Effect.fail(error)
          }
        }
        const error =
          failure === null ? null : failure._tag === "ProviderUnavailable" ? failure.message : failure.reason
        const health = yield* store.recordHealth(
          new HealthCheck({
            tenantId: connection.tenantId,
            connectionId: connection.id,
            ok: failure === null,
            latencyMs: at - started,
            error,
            checkedAt: new Date(at)
          })
        )
        return { ok: failure === null, latencyMs: at - started, error, health, failure } satisfies TokenCheck
      })

      /** POST /health/:provider/test for an OAuth connection. */
      const test = Effect.fn("AccessTokenCheck.test")(function* (
        principal: Principal,
        venueId: VenueId,
        provider: OAuthProviderName
      ) {
        yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
        yield* requireRead(principal, venueId)
        const found = yield* store.find(principal.tenantId, venueId, provider)
        if (Option.isNone(found)) return yield* new ConnectionNotFound({ provider, venueId })
        if (found.value.status === "disconnected")
          return yield* new Unprocessable({ field: "provider", message: `${provider} is disconnected for this venue` })
        const { ok, latencyMs, error, health } = yield* check(found.value, "health_check")
        return { ok, latencyMs, error, health } satisfies TestResult
      })

      return { check, test }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
