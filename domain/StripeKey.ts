import { Effect, Redacted } from "effect"
import { Unprocessable } from "./Errors.ts"
import type { Provider } from "./Provider.ts"

export interface StripeKey {
  readonly key: string
  readonly livemode: boolean
}

/**
 * Today's keys are `sk_live_` + ~100 characters; Stripe asks integrations to allow up to 255 in all. The bound keeps an
 * absurd value from ever becoming an `Authorization` header.
 */
export const maxStripeKeyLength = 255
const secretKeyPattern = new RegExp(`^(sk|rk)_(test|live)_[A-Za-z0-9]{8,${maxStripeKeyLength - 8}}$`)

/**
 * Checks that `provider` takes API keys and that the key is a server-side Stripe key, before any network call.
 * Messages never quote the key.
 */
export const checkStripeKey = (
  provider: Provider,
  apiKey: Redacted.Redacted<string>
): Effect.Effect<StripeKey, Unprocessable> => {
  if (provider !== "stripe") {
    return Effect.fail(
      new Unprocessable({ field: "provider", message: `${provider} connects through OAuth, not an API key` })
    )
  }
  const key = Redacted.value(apiKey).trim()
  if (key.length > maxStripeKeyLength) {
    return Effect.fail(
      new Unprocessable({ field: "apiKey", message: `A Stripe key has at most ${maxStripeKeyLength} characters` })
    )
  }
  if (/^pk_(test|live)_/.test(key)) {
    return Effect.fail(
      new Unprocessable({
        field: "apiKey",
        message: "This is a publishable key; use a secret key (sk_…) or a restricted key (rk_…)"
      })
    )
  }
  if (!secretKeyPattern.test(key)) {
    return Effect.fail(
      new Unprocessable({ field: "apiKey", message: "Not a Stripe secret key (sk_…) or restricted key (rk_…)" })
    )
  }
  return Effect.succeed({ key, livemode: /^(sk|rk)_live_/.test(key) })
}
