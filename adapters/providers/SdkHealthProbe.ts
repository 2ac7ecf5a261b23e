import { Clock, Effect, Layer, Schema } from "effect"
import type { InvalidCredentials, ProviderUnavailable, Unprocessable } from "../../domain/Errors.ts"
import type { ProbeOutcome } from "../../domain/health/HealthRules.ts"
import { type OAuthGrantRejected, type OAuthNotConfigured, OAuthProviderName } from "../../domain/OAuth.ts"
import type { Provider } from "../../domain/Provider.ts"
import { OAuthProviders } from "../../ports/OAuthProvider.ts"
import { HealthProbe, type ProbeCredential, type ProbeResult } from "../../ports/operations/HealthProbe.ts"
import { ProviderGateway } from "../../ports/ProviderGateway.ts"

type ProbeError = InvalidCredentials | ProviderUnavailable | Unprocessable | OAuthGrantRejected | OAuthNotConfigured

const isOAuth = Schema.is(OAuthProviderName)

/**
 * The class of a `ProviderUnavailable`. The provider adapters classify by HTTP status but keep it only in their
 * own message ("… answered 503 …", "Stripe rate limit reached", "… timed out", "… unreachable"), so it is read
 * back from there; a status field on ProviderUnavailable would make this typed.
 */
const unavailableOutcome = (error: ProviderUnavailable): ProbeOutcome => {
  const m = error.message
  if (/rate limit|\b429\b/i.test(m)) return "rate_limited"
  if (/timed out|\b408\b/i.test(m)) return "timeout"
  if (/unreachable|could not be reached/i.test(m)) return "unreachable"
  if (/server error|\b5\d\d\b/i.test(m)) return "server_error"
  return error.retryable ? "server_error" : "client_error"
}

const outcomeOf = (error: ProbeError): ProbeOutcome => {
  switch (error._tag) {
    case "InvalidCredentials":
    case "OAuthGrantRejected":
      return "auth_refused"
    case "ProviderUnavailable":
      return unavailableOutcome(error)
    case "Unprocessable":
    case "OAuthNotConfigured":
      return "client_error"
  }
}

const detailOf = (error: ProbeError): string =>
  error._tag === "OAuthNotConfigured" ? `${error.provider} OAuth is not configured (${error.setting})` : error.message

/**
 * HealthProbe through the clients the service already has: Stripe's account read (ProviderGateway.verifyApiKey on
 * the Stripe SDK) and each OAuth provider's `verifyAccessToken` (Square ListLocations, QuickBooks CompanyInfo,
 * Mailchimp ping), with their own error classifiers; only the class and our message leave.
 */
export const SdkHealthProbe = {
  layer: Layer.effect(
    HealthProbe,
    Effect.gen(function* () {
      const gateway = yield* ProviderGateway
      const oauth = yield* OAuthProviders

      const call = (provider: Provider, credential: ProbeCredential): Effect.Effect<void, ProbeError> => {
        if (credential._tag === "ApiKey") return Effect.asVoid(gateway.verifyApiKey(provider, credential.apiKey))
        if (!isOAuth(provider)) return Effect.die(new Error(`${provider} has no access tokens`))
        return oauth.get(provider).pipe(
          Effect.flatMap((client) =>
            client.verifyAccessToken({
              accessToken: credential.accessToken,
              accountId: credential.accountId,
              extra: credential.extra
            })
          )
        )
      }

      const probe = Effect.fn("SdkHealthProbe.probe")(function* (provider: Provider, credential: ProbeCredential) {
        yield* Effect.annotateCurrentSpan({ provider })
        const started = yield* Clock.currentTimeMillis
        const result = yield* Effect.result(call(provider, credential))
        const latencyMs = (yield* Clock.currentTimeMillis) - started
        const outcome: ProbeResult =
          result._tag === "Success"
            ? { outcome: "ok", latencyMs, detail: null }
            : { outcome: outcomeOf(result.failure), latencyMs, detail: detailOf(result.failure) }
        yield* Effect.annotateCurrentSpan({ "probe.outcome": outcome.outcome })
        return outcome
      })

      return HealthProbe.of({ probe })
    })
  )
}
