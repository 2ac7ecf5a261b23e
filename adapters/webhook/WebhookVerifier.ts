/**
 * The one entry point for the HTTP layer: `verifyWebhook(provider, request)` checks a webhook's authenticity over its
 * raw bytes (fails closed with `InvalidSignature`); `webhookSecrets(config)` splits a comma-separated secret list.
 */
import { type Effect, Redacted } from "effect"
import type { Provider } from "../../domain/Provider.ts"
import type { InvalidSignature } from "../../domain/WebhookEvent.ts"
import { mailchimpSecretParam, verifyMailchimpSecret } from "./MailchimpSecret.ts"
import { verifyQuickBooksSignature } from "./QuickBooksSignature.ts"
import { verifySquareSignature } from "./SquareSignature.ts"
import { verifyStripeSignature } from "./StripeSignature.ts"

type Values = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

export interface WebhookRequest {
  /** The body exactly as received, before any parser ran. */
  readonly raw: Uint8Array
  readonly headers: Values
  readonly query: Values
  /** Every secret currently accepted (rolling keys, service-wide and per-connection); empty means refuse. */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  /** Square only: the subscription's notification URL as configured there. */
  readonly notificationUrl?: string | undefined
}

/** A value sent more than once is ambiguous, hence treated as absent. */
const single = (values: Values, name: string): string | undefined => {
  const key = Object.keys(values).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : values[key]
  if (typeof value === "string") return value
  return value?.length === 1 ? value[0] : undefined
}

export const verifyWebhook = (provider: Provider, request: WebhookRequest): Effect.Effect<void, InvalidSignature> => {
  const { raw, headers, secrets } = request
  switch (provider) {
    case "stripe":
      return verifyStripeSignature({ raw, secrets, header: single(headers, "stripe-signature") })
    case "square":
      return verifySquareSignature({
        raw,
        secrets,
        header: single(headers, "x-square-hmacsha256-signature"),
        notificationUrl: request.notificationUrl
      })
    case "quickbooks":
      return verifyQuickBooksSignature({ raw, secrets, header: single(headers, "intuit-signature") })
    case "mailchimp":
      return verifyMailchimpSecret({ secrets, provided: single(request.query, mailchimpSecretParam) })
  }
}

/** `"whsec_new, whsec_old"` → two secrets; blanks are dropped, so an empty setting yields none (and rejects). */
export const webhookSecrets = (configured: Redacted.Redacted<string> | undefined): Array<Redacted.Redacted<string>> =>
  configured === undefined
    ? []
    : Redacted.value(configured)
        .split(",")
        .map((secret) => secret.trim())
        .filter((secret) => secret !== "")
        .map((secret) => Redacted.make(secret))
