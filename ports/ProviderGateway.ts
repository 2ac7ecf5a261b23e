import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { ProviderAccount } from "../domain/Connection.ts"
import type { InvalidCredentials, ProviderUnavailable, Unprocessable } from "../domain/Errors.ts"
import type { Provider } from "../domain/Provider.ts"

/** Where a provider should deliver events, and which ones. */
export interface WebhookEndpointRequest {
  readonly url: string
  readonly events: ReadonlyArray<string>
}

/** An endpoint the provider created; its signing secret is shown once, at creation. */
export interface RegisteredWebhookEndpoint {
  readonly endpointId: string
  readonly secret: Redacted.Redacted<string>
}

type GatewayError = InvalidCredentials | ProviderUnavailable | Unprocessable

/** Calls to the providers' own APIs, each through its official SDK. */
export class ProviderGateway extends Context.Service<
  ProviderGateway,
  {
    /** The cheapest authenticated call the provider offers; tells whether the key works and whose account it opens. */
    readonly verifyApiKey: (
      provider: Provider,
      apiKey: Redacted.Redacted<string>
    ) => Effect.Effect<ProviderAccount, InvalidCredentials | ProviderUnavailable | Unprocessable>
    /**
     * Asks an API-key provider (Stripe) to send events to `url`, under the key's account.
     * The returned secret signs those deliveries; seal it, the provider never shows it again.
     */
    readonly registerWebhookEndpoint: (
      provider: Provider,
      apiKey: Redacted.Redacted<string>,
      endpoint: WebhookEndpointRequest
    ) => Effect.Effect<RegisteredWebhookEndpoint, GatewayError>
    /** Removes an endpoint created by `registerWebhookEndpoint`; one already gone counts as removed. */
    readonly deleteWebhookEndpoint: (
      provider: Provider,
      apiKey: Redacted.Redacted<string>,
      endpointId: string
    ) => Effect.Effect<void, GatewayError>
  }
>()("integration-service/ports/ProviderGateway") {}
