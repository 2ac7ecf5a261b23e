import { Config, Duration, Effect, Layer, Option } from "effect"
import { CustomFieldDiscovery, type DiscoveryRequest } from "../../ports/CustomFieldDiscovery.ts"
import { mailchimpCustomFields } from "./MailchimpCustomFields.ts"
import { quickBooksLocation } from "./OAuthProviders.ts"
import { quickBooksCustomFields } from "./QuickBooksCustomFields.ts"
import { squareCustomFields } from "./SquareCustomFields.ts"

/**
 * Custom-field discovery on each provider's official SDK, at the same hosts as its OAuth client (`SQUARE_BASE_URL`,
 * `QUICKBOOKS_ENVIRONMENT`/`QUICKBOOKS_BASE_URL`, Mailchimp's `api_endpoint`), each call bounded by `OAUTH_TIMEOUT`.
 */
export const SdkCustomFieldDiscovery = {
  layer: Layer.effect(
    CustomFieldDiscovery,
    Effect.gen(function* () {
      const timeout = yield* Config.Duration("OAUTH_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))
      const timeoutMs = Duration.toMillis(timeout)
      const squareBase = yield* Config.option(Config.URL("SQUARE_BASE_URL"))
      const quickbooks = yield* quickBooksLocation
      const byProvider = {
        mailchimp: mailchimpCustomFields(timeoutMs),
        quickbooks: quickBooksCustomFields({ ...quickbooks, timeoutMs }),
        square: squareCustomFields({
          baseUrl: Option.match(squareBase, {
            onNone: () => "https://connect.squareup.com",
            onSome: (u) => u.toString()
          }),
          timeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000))
        })
      }
      return CustomFieldDiscovery.of({
        discover: (request: DiscoveryRequest) => byProvider[request.provider](request)
      })
    })
  )
} as const
