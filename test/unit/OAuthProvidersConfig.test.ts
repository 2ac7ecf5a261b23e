import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Redacted } from "effect"
import { quickBooksLocation, SdkOAuthProviders } from "../../adapters/providers/OAuthProviders.ts"
import { endpointsUnder, makeQuickBooksOAuth } from "../../adapters/providers/QuickBooksOAuth.ts"
import { defaultScopes, type OAuthProviderName } from "../../domain/OAuth.ts"
import { OAuthProviders } from "../../ports/OAuthProvider.ts"

const withConfig = (values: Record<string, string>) =>
  SdkOAuthProviders.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(values))))

const lookup = (values: Record<string, string>, provider: OAuthProviderName) =>
  OAuthProviders.use((p) => p.get(provider)).pipe(Effect.provide(withConfig(values)))

const request = { state: "st4te", redirectUri: "https://app.example/cb", codeChallenge: "ch4llenge" }

const all = {
  SQUARE_CLIENT_ID: "sq0idp-app",
  SQUARE_CLIENT_SECRET: "sq0csp-secret",
  QUICKBOOKS_CLIENT_ID: "qb-app",
  QUICKBOOKS_CLIENT_SECRET: "qb-secret",
  MAILCHIMP_CLIENT_ID: "mc-app",
  MAILCHIMP_CLIENT_SECRET: "mc-secret"
}

describe("SdkOAuthProviders configuration", () => {
  it.effect("a provider without its client id or secret is OAuthNotConfigured naming the setting", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<[Record<string, string>, OAuthProviderName, string]> = [
        [{}, "square", "SQUARE_CLIENT_ID"],
        [{ SQUARE_CLIENT_ID: "id" }, "square", "SQUARE_CLIENT_SECRET"],
        [{ SQUARE_CLIENT_ID: "id", SQUARE_CLIENT_SECRET: "  " }, "square", "SQUARE_CLIENT_SECRET"],
        [{}, "quickbooks", "QUICKBOOKS_CLIENT_ID"],
        [{ QUICKBOOKS_CLIENT_ID: "id" }, "quickbooks", "QUICKBOOKS_CLIENT_SECRET"],
        [{}, "mailchimp", "MAILCHIMP_CLIENT_ID"],
        [{ MAILCHIMP_CLIENT_ID: "id" }, "mailchimp", "MAILCHIMP_CLIENT_SECRET"]
      ]
      for (const [values, provider, setting] of cases) {
        const error = yield* lookup(values, provider).pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "OAuthNotConfigured", provider, setting })
      }
    })
  )

  it.effect("one provider missing does not take the others down", () =>
    Effect.gen(function* () {
      const square = yield* lookup({ SQUARE_CLIENT_ID: "id", SQUARE_CLIENT_SECRET: "s" }, "square")
      assert.strictEqual(square.provider, "square")
      const missing = yield* lookup({ SQUARE_CLIENT_ID: "id", SQUARE_CLIENT_SECRET: "s" }, "mailchimp").pipe(
        Effect.flip
      )
      assert.strictEqual(missing._tag, "OAuthNotConfigured")
    })
  )

  it.effect("a malformed base URL fails start-up instead of passing as unconfigured", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(lookup({ ...all, SQUARE_BASE_URL: "not a url" }, "square"))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.notInclude(JSON.stringify(exit.cause), "OAuthNotConfigured")
    })
  )

  it.effect("defaults point at the real providers with the documented scopes", () =>
    Effect.gen(function* () {
      const square = new URL((yield* lookup(all, "square")).authorizationUrl(request))
      assert.strictEqual(square.origin + square.pathname, "https://connect.squareup.com/oauth2/authorize")
      assert.strictEqual(square.searchParams.get("scope"), defaultScopes.square.join(" "))
      assert.strictEqual(square.searchParams.get("code_challenge"), "ch4llenge")
      assert.strictEqual(square.searchParams.get("state"), "st4te")

      const quickbooks = yield* lookup(all, "quickbooks")
      const qbo = new URL(quickbooks.authorizationUrl(request))
      assert.strictEqual(qbo.origin + qbo.pathname, "https://appcenter.intuit.com/connect/oauth2")
      assert.strictEqual(qbo.searchParams.get("scope"), "com.intuit.quickbooks.accounting")
      assert.strictEqual(qbo.searchParams.get("response_type"), "code")
      assert.strictEqual(qbo.searchParams.get("redirect_uri"), request.redirectUri)
      assert.isNull(qbo.searchParams.get("code_challenge"))
      assert.isFalse(quickbooks.supportsPkce)

      const mc = new URL((yield* lookup(all, "mailchimp")).authorizationUrl(request))
      assert.strictEqual(mc.origin + mc.pathname, "https://login.mailchimp.com/oauth2/authorize")
      assert.isNull(mc.searchParams.get("code_challenge"))
    })
  )

  it.effect("scopes are overridable, comma-separated", () =>
    Effect.gen(function* () {
      const square = yield* lookup({ ...all, SQUARE_SCOPES: "MERCHANT_PROFILE_READ, ITEMS_READ,," }, "square")
      assert.deepStrictEqual(square.scopes, ["MERCHANT_PROFILE_READ", "ITEMS_READ"])
      const qbo = yield* lookup({ ...all, QUICKBOOKS_SCOPES: "com.intuit.quickbooks.accounting,openid" }, "quickbooks")
      assert.strictEqual(
        new URL(qbo.authorizationUrl(request)).searchParams.get("scope"),
        "com.intuit.quickbooks.accounting openid"
      )
    })
  )

  it.effect("QUICKBOOKS_ENVIRONMENT picks Intuit's hosts, production by default; the base URLs still override", () =>
    Effect.gen(function* () {
      const locate = (values: Record<string, string>) =>
        quickBooksLocation.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(values))))
      const production = yield* locate({})
      assert.strictEqual(production.environment, "production")
      assert.strictEqual(production.apiBaseUrl, "https://quickbooks.api.intuit.com")
      assert.strictEqual(
        production.endpoints.userInfo,
        "https://accounts.platform.intuit.com/v1/openid_connect/userinfo"
      )
      assert.deepStrictEqual(yield* locate({ QUICKBOOKS_ENVIRONMENT: "production" }), production)
      assert.deepStrictEqual(yield* locate({ QUICKBOOKS_ENVIRONMENT: "" }), production)

      const sandbox = yield* locate({ QUICKBOOKS_ENVIRONMENT: "sandbox" })
      assert.strictEqual(sandbox.environment, "sandbox")
      assert.strictEqual(sandbox.apiBaseUrl, "https://sandbox-quickbooks.api.intuit.com")
      assert.strictEqual(
        sandbox.endpoints.userInfo,
        "https://sandbox-accounts.platform.intuit.com/v1/openid_connect/userinfo"
      )
      // Intuit's OAuth server is the same for both environments.
      assert.strictEqual(sandbox.endpoints.token, production.endpoints.token)
      assert.strictEqual(sandbox.endpoints.authorize, "https://appcenter.intuit.com/connect/oauth2")

      const fake = yield* locate({
        QUICKBOOKS_ENVIRONMENT: "sandbox",
        QUICKBOOKS_BASE_URL: "http://127.0.0.1:4010",
        QUICKBOOKS_OAUTH_BASE_URL: "http://127.0.0.1:4011"
      })
      assert.strictEqual(fake.environment, "sandbox")
      assert.strictEqual(new URL(fake.apiBaseUrl).origin, "http://127.0.0.1:4010")
      assert.strictEqual(fake.endpoints.token, "http://127.0.0.1:4011/oauth2/v1/tokens/bearer")

      const wrong = yield* Effect.exit(lookup({ ...all, QUICKBOOKS_ENVIRONMENT: "staging" }, "quickbooks"))
      assert.isTrue(Exit.isFailure(wrong), "an unknown environment fails start-up")
      if (Exit.isFailure(wrong)) assert.include(JSON.stringify(wrong.cause), "QUICKBOOKS_ENVIRONMENT")
    })
  )

  it("intuit-oauth's process-global endpoints never leak between two configurations", () => {
    const config = (base: string) =>
      makeQuickBooksOAuth({
        clientId: "qb",
        clientSecret: Redacted.make("secret"),
        environment: "production",
        endpoints: endpointsUnder(base),
        apiBaseUrl: base,
        scopes: ["com.intuit.quickbooks.accounting"],
        timeout: "1 second"
      })
    const a = config("http://127.0.0.1:1111")
    const b = config("http://127.0.0.1:2222")
    for (let i = 0; i < 3; i++) {
      assert.isTrue(a.authorizationUrl(request).startsWith("http://127.0.0.1:1111/connect/oauth2?"))
      assert.isTrue(b.authorizationUrl(request).startsWith("http://127.0.0.1:2222/connect/oauth2?"))
    }
  })
})
