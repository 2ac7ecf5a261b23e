import { Duration, Option } from "effect"
import Stripe from "stripe"
import type { StripeDataOptions } from "./StripeData.ts"

/**
 * The official SDK for one key, as the reader, the writer and the connect flow use it: no SDK retries unless asked
 * (the sync engine's budget and retries decide), the configured timeout, and the sandbox fake's host when STRIPE_API_BASE_URL is set. A client per call, so
 * no key is held between calls.
 */
export const stripeClient = (options: StripeDataOptions, key: string, maxNetworkRetries = 0): Stripe =>
  new Stripe(key, {
    maxNetworkRetries,
    timeout: Duration.toMillis(options.timeout),
    ...Option.match(options.baseUrl, {
      onNone: () => ({}),
      onSome: (url) => ({
        host: url.hostname,
        protocol: url.protocol === "http:" ? ("http" as const) : ("https" as const),
        ...(url.port === "" ? {} : { port: Number(url.port) })
      })
    })
  })
