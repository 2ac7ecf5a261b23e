import { Effect, Layer } from "effect"
import type { Provider } from "../../domain/Provider.ts"
import { ProviderData, type ProviderDataAdapter } from "../../ports/sync/ProviderData.ts"
import { makeMailchimpData } from "./mailchimp/MailchimpData.ts"
import { makeQuickBooksData } from "./quickbooks/QuickBooksData.ts"
import { makeSquareData } from "./square/SquareData.ts"
import { makeStripeData } from "./stripe/StripeData.ts"

/** Each provider's data reader on its official SDK, each at its configured base URL (see the README). */
export const SdkProviderData = {
  layer: Layer.effect(
    ProviderData,
    Effect.gen(function* () {
      const adapters: Record<Provider, ProviderDataAdapter> = {
        stripe: yield* makeStripeData,
        square: yield* makeSquareData,
        quickbooks: yield* makeQuickBooksData,
        mailchimp: yield* makeMailchimpData
      }
      return ProviderData.of({ adapter: (provider) => adapters[provider] })
    })
  )
} as const
