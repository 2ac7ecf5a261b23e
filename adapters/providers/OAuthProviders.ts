import { Config, Duration, Effect, Layer, Option, Redacted, Result } from "effect"
import { FetchHttpClient } from "effect/http"
import { defaultScopes, OAuthNotConfigured, type OAuthProviderName } from "../../domain/OAuth.ts"
import { type OAuthProvider, OAuthProviders } from "../../ports/OAuthProvider.ts"
import { makeMailchimpOAuth } from "./MailchimpOAuth.ts"
import { endpointsUnder, intuitApiHosts, intuitEndpoints, makeQuickBooksOAuth } from "./QuickBooksOAuth.ts"
import { makeSquareOAuth } from "./SquareOAuth.ts"

type Lookup = Result.Result<OAuthProvider, OAuthNotConfigured>

/** An unset or empty setting is "not configured"; a malformed one fails start-up. */
const optional = <A>(config: Config.Config<A>) =>
  Config.option(config).pipe(Config.map(Option.filter((value) => !(typeof value === "string" && value.trim() === ""))))

const required = (provider: OAuthProviderName, name: string) =>
  optional(Config.String(name)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new OAuthNotConfigured({ provider, setting: name })),
        onSome: Effect.succeed
      })
    )
  )

const requiredSecret = (provider: OAuthProviderName, name: string) =>
  optional(Config.String(name)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new OAuthNotConfigured({ provider, setting: name })),
        onSome: (value) => Effect.succeed(Redacted.make(value))
      })
    )
  )

const url = (name: string, fallback: string) =>
  optional(Config.URL(name)).pipe(Effect.map(Option.match({ onNone: () => fallback, onSome: (u) => u.toString() })))

const scopes = (name: string, fallback: ReadonlyArray<string>) =>
  optional(Config.String(name)).pipe(
    Effect.map(
      Option.match({
        onNone: () => fallback,
        onSome: (list) =>
          list
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
      })
    )
  )

/**
 * Where QuickBooks lives: `QUICKBOOKS_ENVIRONMENT` (`sandbox` | `production`, default production) picks Intuit's
 * accounting API host, its userinfo endpoint and intuit-oauth's `environment`; `QUICKBOOKS_BASE_URL` (API) and
 * `QUICKBOOKS_OAUTH_BASE_URL` (authorize/token/revoke/userinfo under one host, e.g. a fake) still override them.
 */
export const quickBooksLocation = Effect.gen(function* () {
  const environment = Option.getOrElse(
    yield* optional(Config.Literals(["sandbox", "production"], "QUICKBOOKS_ENVIRONMENT")),
    () => "production" as const
  )
  const oauthBase = yield* optional(Config.URL("QUICKBOOKS_OAUTH_BASE_URL"))
  return {
    environment,
    endpoints: Option.match(oauthBase, {
      onNone: () => intuitEndpoints(environment),
      onSome: (u) => endpointsUnder(u.toString())
    }),
    apiBaseUrl: yield* url("QUICKBOOKS_BASE_URL", intuitApiHosts[environment])
  }
})

const lookup = <R>(build: Effect.Effect<OAuthProvider, OAuthNotConfigured | Config.ConfigError, R>) =>
  build.pipe(
    Effect.map((p): Lookup => Result.succeed(p)),
    Effect.catchTag("OAuthNotConfigured", (e) => Effect.succeed<Lookup>(Result.fail(e)))
  )

/**
 * The OAuth clients built from configuration:
 * `SQUARE_CLIENT_ID` `SQUARE_CLIENT_SECRET` `SQUARE_BASE_URL` `SQUARE_SCOPES`,
 * `QUICKBOOKS_CLIENT_ID` `QUICKBOOKS_CLIENT_SECRET` `QUICKBOOKS_ENVIRONMENT` `QUICKBOOKS_BASE_URL` (accounting API)
 * `QUICKBOOKS_OAUTH_BASE_URL` (one host for authorize/token/revoke, e.g. a sandbox fake; unset = Intuit's hosts)
 * `QUICKBOOKS_SCOPES`, `MAILCHIMP_CLIENT_ID` `MAILCHIMP_CLIENT_SECRET` `MAILCHIMP_OAUTH_BASE_URL`,
 * and `OAUTH_TIMEOUT` (per token call, default 10 s). Scopes are comma-separated.
 * A provider without its client id or secret stays unavailable (`OAuthNotConfigured`
 * naming the setting) while the others work.
 */
export const SdkOAuthProviders = {
  layer: Layer.effect(
    OAuthProviders,
    Effect.gen(function* () {
      const timeout = yield* Config.Duration("OAUTH_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

      const square = yield* lookup(
        Effect.gen(function* () {
          return makeSquareOAuth({
            clientId: yield* required("square", "SQUARE_CLIENT_ID"),
            clientSecret: yield* requiredSecret("square", "SQUARE_CLIENT_SECRET"),
            baseUrl: yield* url("SQUARE_BASE_URL", "https://connect.squareup.com"),
            scopes: yield* scopes("SQUARE_SCOPES", defaultScopes.square),
            timeout
          })
        })
      )

      const quickbooks = yield* lookup(
        Effect.gen(function* () {
          return makeQuickBooksOAuth({
            clientId: yield* required("quickbooks", "QUICKBOOKS_CLIENT_ID"),
            clientSecret: yield* requiredSecret("quickbooks", "QUICKBOOKS_CLIENT_SECRET"),
            ...(yield* quickBooksLocation),
            scopes: yield* scopes("QUICKBOOKS_SCOPES", defaultScopes.quickbooks),
            timeout
          })
        })
      )

      const mailchimp = yield* lookup(
        Effect.gen(function* () {
          return yield* makeMailchimpOAuth({
            clientId: yield* required("mailchimp", "MAILCHIMP_CLIENT_ID"),
            clientSecret: yield* requiredSecret("mailchimp", "MAILCHIMP_CLIENT_SECRET"),
            oauthBaseUrl: yield* url("MAILCHIMP_OAUTH_BASE_URL", "https://login.mailchimp.com"),
            timeout
          })
        })
      )

      const registry: Record<OAuthProviderName, Lookup> = { square, quickbooks, mailchimp }
      return OAuthProviders.of({
        get: (provider) => Effect.fromResult(registry[provider])
      })
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))
}
