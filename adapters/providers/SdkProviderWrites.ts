import { Effect, Layer } from "effect"
import type { Provider } from "../../domain/Provider.ts"
import { type ProviderWriter, ProviderWrites } from "../../ports/sync/ProviderWrites.ts"
import { makeMailchimpWrites } from "./mailchimp/MailchimpWrites.ts"
import { makeQuickBooksWrites } from "./quickbooks/QuickBooksWrites.ts"
import { makeSquareWrites } from "./square/SquareWrites.ts"
import { makeStripeWrites } from "./stripe/StripeWrites.ts"

/** Each provider's writer on its official SDK, at the same configured base URL as its reader (see the README). */
export const SdkProviderWrites = {
  layer: Layer.effect(
    ProviderWrites,
    Effect.gen(function* () {
      const writers: Record<Provider, ProviderWriter> = {
        stripe: yield* makeStripeWrites,
        square: yield* makeSquareWrites,
        quickbooks: yield* makeQuickBooksWrites,
        mailchimp: yield* makeMailchimpWrites
      }
      return ProviderWrites.of({ writer: (provider) => writers[provider] })
    })
  )
} as const
