import { Config, Duration, Effect, Layer, type Option, Redacted } from "effect"
import Stripe from "stripe"
import { ProviderAccount } from "../../domain/Connection.ts"
import { InvalidCredentials, ProviderUnavailable, Unprocessable } from "../../domain/Errors.ts"
import type { Provider } from "../../domain/Provider.ts"
import { checkStripeKey } from "../../domain/StripeKey.ts"
import { ProviderGateway } from "../../ports/ProviderGateway.ts"
import { stripeClient } from "./stripe/StripeClient.ts"

export interface StripeGatewayOptions {
  /** A Stripe-compatible server (the sandbox fake); the SDK's default api.stripe.com when absent. */
  readonly baseUrl: Option.Option<URL>
  readonly timeout: Duration.Duration
}

export const StripeGatewayConfig = Config.all({
  baseUrl: Config.option(Config.URL("STRIPE_API_BASE_URL")),
  timeout: Config.Duration("STRIPE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))
})

type GatewayError = InvalidCredentials | ProviderUnavailable | Unprocessable

/** Maps what the SDK throws to the port's errors, with our own messages: Stripe's 401 text quotes part of the key. */
const toGatewayError =
  (action: string) =>
  (error: unknown): GatewayError => {
    if (error instanceof Stripe.errors.StripeAuthenticationError) {
      return new InvalidCredentials({
        provider: "stripe",
        field: "apiKey",
        message: "Stripe rejected the API key: it is wrong, revoked or expired"
      })
    }
    if (error instanceof Stripe.errors.StripePermissionError) {
      return new InvalidCredentials({
        provider: "stripe",
        field: "apiKey",
        message: `The Stripe key lacks permission to ${action}; use a secret key or widen the restricted key`
      })
    }
    if (error instanceof Stripe.errors.StripeRateLimitError) {
      return new ProviderUnavailable({ provider: "stripe", message: "Stripe rate limit reached", retryable: true })
    }
    if (error instanceof Stripe.errors.StripeConnectionError) {
      return new ProviderUnavailable({ provider: "stripe", message: "Stripe could not be reached", retryable: true })
    }
    if (error instanceof Stripe.errors.StripeAPIError) {
      return new ProviderUnavailable({
        provider: "stripe",
        message: "Stripe answered with a server error",
        retryable: true
      })
    }
    if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 400) {
      return new Unprocessable({ field: error.param ?? "request", message: error.message })
    }
    const status = error instanceof Stripe.errors.StripeError ? ` (HTTP ${error.statusCode ?? "?"})` : ""
    return new ProviderUnavailable({
      provider: "stripe",
      message: `Stripe failed to ${action}${status}`,
      retryable: false
    })
  }

/** ProviderGateway for Stripe on the official SDK; one short-lived client per call, so no key is held between calls. */
export const makeStripeGateway = (options: StripeGatewayOptions) => {
  // The connect flow's few calls may retry once inside the SDK (sync calls never do: the engine decides).
  const clientFor = (key: string) => stripeClient(options, key, 1)

  const call = <A>(action: string, key: string, run: (client: Stripe) => Promise<A>) =>
    Effect.tryPromise({ try: () => run(clientFor(key)), catch: toGatewayError(action) })

  const verifyApiKey = Effect.fn("StripeGateway.verifyApiKey")(function* (
    provider: Provider,
    apiKey: Redacted.Redacted<string>
  ) {
    yield* Effect.annotateCurrentSpan({ provider })
    const { key, livemode } = yield* checkStripeKey(provider, apiKey)
    const account = yield* call("read the account", key, (client) => client.accounts.retrieveCurrent())
    yield* Effect.annotateCurrentSpan({ "stripe.account_id": account.id })
    return new ProviderAccount({
      accountId: account.id,
      accountName: account.settings?.dashboard?.display_name || account.business_profile?.name || null,
      livemode
    })
  })

  const registerWebhookEndpoint = Effect.fn("StripeGateway.registerWebhookEndpoint")(function* (
    provider: Provider,
    apiKey: Redacted.Redacted<string>,
    endpoint: { readonly url: string; readonly events: ReadonlyArray<string> }
  ) {
    yield* Effect.annotateCurrentSpan({ provider })
    const { key } = yield* checkStripeKey(provider, apiKey)
    const created = yield* call("create webhook endpoints", key, (client) =>
      client.webhookEndpoints.create({
        url: endpoint.url,
        enabled_events: [...endpoint.events] as Array<Stripe.WebhookEndpointCreateParams.EnabledEvent>
      })
    )
    yield* Effect.annotateCurrentSpan({ "stripe.webhook_endpoint_id": created.id })
    if (!created.secret) {
      return yield* new ProviderUnavailable({
        provider: "stripe",
        message: "Stripe created the webhook endpoint without a signing secret",
        retryable: false
      })
    }
    return { endpointId: created.id, secret: Redacted.make(created.secret) }
  })

  const deleteWebhookEndpoint = Effect.fn("StripeGateway.deleteWebhookEndpoint")(function* (
    provider: Provider,
    apiKey: Redacted.Redacted<string>,
    endpointId: string
  ) {
    yield* Effect.annotateCurrentSpan({ provider, "stripe.webhook_endpoint_id": endpointId })
    const { key } = yield* checkStripeKey(provider, apiKey)
    yield* call("delete webhook endpoints", key, (client) =>
      client.webhookEndpoints.del(endpointId).then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 404) return undefined
          throw error
        }
      )
    )
  })

  return ProviderGateway.of({ verifyApiKey, registerWebhookEndpoint, deleteWebhookEndpoint })
}

export const StripeGateway = {
  /** Reads STRIPE_API_BASE_URL (optional) and STRIPE_TIMEOUT (default 10 seconds). */
  layer: Layer.effect(
    ProviderGateway,
    Effect.gen(function* () {
      return makeStripeGateway(yield* StripeGatewayConfig)
    })
  ),
  layerWith: (options: StripeGatewayOptions) => Layer.succeed(ProviderGateway, makeStripeGateway(options))
}
