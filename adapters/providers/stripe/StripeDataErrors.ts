import Stripe from "stripe"
import { failureKindOf, ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"

/** Stripe sends no Retry-After on its 429s as a rule; a second is its documented backoff start. */
const defaultRetryAfterMillis = 1_000

/** Stripe quotes keys in its messages (masked, `sk_test_****1234`); a message of ours never carries any of one. */
const withoutKeys = (message: string) => message.replace(/\b[a-z]{2,4}_(test|live)_[A-Za-z0-9*]+/g, "<key>")

const retryAfterMillis = (headers: Record<string, string> | undefined): number => {
  const header = headers?.["retry-after"]
  if (header === undefined) return defaultRetryAfterMillis
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? defaultRetryAfterMillis : Math.max(0, at - Date.now())
}

/** Maps what the SDK throws to the port's failure: the kind from the status, Stripe's reason as the message. */
export const toProviderCallFailed = (error: unknown): ProviderCallFailed => {
  if (error instanceof Stripe.errors.StripeConnectionError || !(error instanceof Stripe.errors.StripeError)) {
    return new ProviderCallFailed({
      provider: "stripe",
      kind: "unavailable",
      status: null,
      retryAfterMillis: null,
      message: `Stripe could not be reached: ${withoutKeys(error instanceof Error ? error.message : String(error))}`
    })
  }
  const status = error.statusCode ?? 0
  // The SDK also raises StripeRateLimitError for a 400 `code: rate_limit` (a lock or concurrency limit).
  const kind = error instanceof Stripe.errors.StripeRateLimitError ? "rate_limited" : failureKindOf(status)
  return new ProviderCallFailed({
    provider: "stripe",
    kind,
    status: error.statusCode ?? null,
    retryAfterMillis: kind === "rate_limited" ? retryAfterMillis(error.headers) : null,
    message: `Stripe answered ${status}: ${withoutKeys(error.message)}`
  })
}
