import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { ProbeOutcome } from "../../domain/health/HealthRules.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { TokenLifecycle } from "../../domain/TokenLifecycle.ts"

/** What the cheapest call needs: Stripe's key, or an OAuth access token with the account it opens. */
export type ProbeCredential =
  | { readonly _tag: "ApiKey"; readonly apiKey: Redacted.Redacted<string> }
  | {
      readonly _tag: "AccessToken"
      readonly accessToken: Redacted.Redacted<string>
      /** QuickBooks reads CompanyInfo of this realm. */
      readonly accountId: string | null
      /** Mailchimp's datacenter and API base. */
      readonly extra: TokenLifecycle["extra"]
    }

/** One probe, classified; `detail` is our own sentence (never a provider's body) for logs and `last_error`. */
export interface ProbeResult {
  readonly outcome: ProbeOutcome
  readonly latencyMs: number
  readonly detail: string | null
}

/**
 * The cheapest authenticated call of each provider (Stripe account, Square ListLocations, QuickBooks CompanyInfo,
 * Mailchimp ping), timed and classified. It never fails: every way the call can end is an outcome.
 */
export class HealthProbe extends Context.Service<
  HealthProbe,
  { readonly probe: (provider: Provider, credential: ProbeCredential) => Effect.Effect<ProbeResult> }
>()("integration-service/ports/operations/HealthProbe") {}
