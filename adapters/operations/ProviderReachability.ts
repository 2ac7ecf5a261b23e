import { Config, Effect } from "effect"
import { type Provider, providers } from "../../domain/Provider.ts"

/** Each provider's API host as the service is configured to reach it (the same settings its adapters read). */
const baseUrls = Config.all({
  stripe: Config.String("STRIPE_API_BASE_URL").pipe(Config.withDefault("https://api.stripe.com")),
  square: Config.String("SQUARE_BASE_URL").pipe(Config.withDefault("https://connect.squareup.com")),
  quickbooks: Config.String("QUICKBOOKS_BASE_URL").pipe(Config.withDefault("https://quickbooks.api.intuit.com")),
  // Mailchimp's API host is per account (its data center); without one configured, its login host stands in.
  mailchimp: Config.String("MAILCHIMP_API_BASE_URL").pipe(
    Config.orElse(() => Config.String("MAILCHIMP_OAUTH_BASE_URL")),
    Config.withDefault("https://login.mailchimp.com")
  )
})

/**
 * One unauthenticated request per provider: any HTTP answer (a 401 or 404 included) says its host is reachable
 * from here; a refused connection, a DNS failure or no answer within 2 seconds says it is not.
 */
export const providerReachability = Effect.gen(function* () {
  const urls = yield* baseUrls.pipe(Effect.orDie)
  const probe = (provider: Provider) =>
    Effect.tryPromise((signal) =>
      fetch(urls[provider], {
        method: "GET",
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)])
      })
    ).pipe(
      Effect.flatMap((response) => Effect.promise(() => response.body?.cancel() ?? Promise.resolve())),
      Effect.as("ok" as const),
      Effect.catch(() => Effect.succeed("unreachable" as const)),
      Effect.map((status) => [`provider.${provider}`, status] as const)
    )
  return Object.fromEntries(yield* Effect.forEach(providers, probe, { concurrency: "unbounded" }))
})
