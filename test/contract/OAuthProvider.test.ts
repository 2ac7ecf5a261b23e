import { createRequire } from "node:module"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { SquareClient, type SquareError } from "square"
import { MemoryOAuthControl, MemoryOAuthProvider } from "../../adapters/memory/MemoryOAuthProvider.ts"
import { SdkOAuthProviders } from "../../adapters/providers/OAuthProviders.ts"
import {
  callbackOutcome,
  codeChallengeS256,
  codeVerifierFromBytes,
  type OAuthProviderName,
  type TokenGrant
} from "../../domain/OAuth.ts"
import { OAuthProviders } from "../../ports/OAuthProvider.ts"
import { startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"
import { startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import { startFakeSquare } from "../sandbox/FakeSquare.ts"

type Failure = "invalid_grant" | "server_error" | "rate_limited" | "timeout"

interface Stats {
  readonly exchanges: number
  readonly refreshes: number
  readonly revocations: number
  readonly staleRefreshes: number
}

/** What the contract needs to steer each adapter's provider: the sandbox fakes, or the in-memory servers. */
class Harness extends Context.Service<
  Harness,
  {
    readonly consent: (url: string, deny?: boolean) => Effect.Effect<Record<string, string>>
    readonly fail: (provider: OAuthProviderName, mode: Failure) => Effect.Effect<void>
    readonly recover: (provider: OAuthProviderName) => Effect.Effect<void>
    readonly stats: (provider: OAuthProviderName) => Effect.Effect<Stats>
    readonly advance: (millis: number) => Effect.Effect<void>
    readonly accountIds: Readonly<Record<OAuthProviderName, string>>
    /** Client secrets that must never show up in an error. */
    readonly secrets: ReadonlyArray<string>
  }
>()("test/contract/OAuthProviderHarness") {}

const SandboxHarness = Layer.effectContext(
  Effect.gen(function* () {
    const acquire = <F extends { close: () => Promise<void> }>(start: () => Promise<F>) =>
      Effect.acquireRelease(Effect.promise(start), (fake) => Effect.promise(() => fake.close()))
    const square = yield* acquire(() => startFakeSquare())
    const quickbooks = yield* acquire(() => startFakeQuickBooks())
    const mailchimp = yield* acquire(() => startFakeMailchimp())
    const fakes = { square, quickbooks, mailchimp }
    const providers = yield* Layer.build(
      SdkOAuthProviders.layer.pipe(
        Layer.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({
              SQUARE_CLIENT_ID: square.clientId,
              SQUARE_CLIENT_SECRET: square.clientSecret,
              SQUARE_BASE_URL: square.url,
              QUICKBOOKS_CLIENT_ID: quickbooks.clientId,
              QUICKBOOKS_CLIENT_SECRET: quickbooks.clientSecret,
              QUICKBOOKS_BASE_URL: quickbooks.url,
              QUICKBOOKS_OAUTH_BASE_URL: quickbooks.url,
              MAILCHIMP_CLIENT_ID: mailchimp.clientId,
              MAILCHIMP_CLIENT_SECRET: mailchimp.clientSecret,
              MAILCHIMP_OAUTH_BASE_URL: mailchimp.url,
              OAUTH_TIMEOUT: "400 millis"
            })
          )
        )
      )
    )
    const byUrl = (url: string) => Object.values(fakes).find((f) => url.startsWith(f.url))
    return Context.add(
      providers,
      Harness,
      Harness.of({
        consent: (url, deny = false) =>
          Effect.promise(() => {
            const fake = byUrl(url)
            if (fake === undefined) throw new Error(`no fake serves ${url}`)
            return fake.consent(url, { deny })
          }),
        fail: (provider, mode) =>
          Effect.sync(() => (mode === "timeout" ? fakes[provider].setDelay(800) : fakes[provider].fail(mode))),
        recover: (provider) => Effect.sync(() => fakes[provider].setDelay(0)),
        stats: (provider) => Effect.sync(() => ({ staleRefreshes: 0, ...fakes[provider].stats() })),
        advance: (millis) =>
          Effect.sync(() => {
            for (const fake of Object.values(fakes)) fake.advance(millis)
          }),
        accountIds: {
          square: square.merchantId,
          quickbooks: quickbooks.realmId,
          mailchimp: `${mailchimp.dc}:${mailchimp.userId}`
        },
        secrets: [square.clientSecret, quickbooks.clientSecret, mailchimp.clientSecret]
      })
    )
  })
)

const MemoryHarness = Layer.effectContext(
  Effect.gen(function* () {
    const control = yield* MemoryOAuthControl
    return Context.make(
      Harness,
      Harness.of({
        consent: (url, deny = false) => control.consent(url, { deny }),
        fail: (provider, mode) => control.fail(provider, mode),
        recover: () => Effect.void,
        stats: control.stats,
        advance: control.advance,
        accountIds: { square: "MLMEMORYMERCHANT", quickbooks: "9130000000000001", mailchimp: "us1:1001" },
        secrets: []
      })
    )
  })
).pipe(Layer.provideMerge(MemoryOAuthProvider.layer))

const redirectUri = "http://127.0.0.1:8080/api/v1/integrations/oauth/callback"

/** No token and no client secret anywhere in what an error prints or serializes. */
const assertClean = (error: unknown, secrets: ReadonlyArray<string>) => {
  const rendered = `${String(error)}\n${JSON.stringify(error)}\n${(error as Error).message ?? ""}`
  for (const secret of secrets) assert.notInclude(rendered, secret)
}

const tokensOf = (grant: { accessToken: Redacted.Redacted<string>; refreshToken: Redacted.Redacted<string> | null }) =>
  [grant.accessToken, grant.refreshToken].flatMap((t) => (t === null ? [] : [Redacted.value(t)]))

/** Authorize, consent, check the callback, exchange: what the HTTP callback route will do. */
const connect = (provider: OAuthProviderName, pkce?: { verifier: string; challenge: string }) =>
  Effect.gen(function* () {
    const harness = yield* Harness
    const oauth = yield* (yield* OAuthProviders).get(provider)
    const state = crypto.randomUUID()
    const url = oauth.authorizationUrl({ state, redirectUri, codeChallenge: pkce?.challenge ?? null })
    const query = yield* harness.consent(url)
    const outcome = callbackOutcome(query)
    if (outcome._tag !== "Code") return assert.fail(`expected a code, got ${outcome._tag}`)
    assert.strictEqual(outcome.state, state)
    const exchange = {
      code: outcome.code,
      redirectUri,
      codeVerifier: pkce === undefined ? null : Redacted.make(pkce.verifier),
      callbackQuery: query
    }
    return { oauth, exchange, grant: yield* oauth.exchangeCode(exchange) }
  })

const newPkce = Effect.gen(function* () {
  const verifier = codeVerifierFromBytes(crypto.getRandomValues(new Uint8Array(32)))
  return { verifier, challenge: yield* codeChallengeS256(verifier) }
})

const assertLifetimes = (
  provider: OAuthProviderName,
  grant: Pick<TokenGrant, "expiresAt" | "obtainedAt" | "refreshToken" | "refreshTokenExpiresAt">
) => {
  const life = grant.expiresAt === null ? null : grant.expiresAt.getTime() - grant.obtainedAt.getTime()
  if (provider === "quickbooks") {
    assert.strictEqual(life, 3_600_000)
    assert.strictEqual(grant.refreshTokenExpiresAt?.getTime(), grant.obtainedAt.getTime() + 8_726_400_000)
  } else if (provider === "square") {
    assert.isTrue(life !== null && Math.abs(life - 30 * 86_400_000) < 5_000)
  } else {
    assert.isNull(grant.expiresAt)
    assert.isNull(grant.refreshToken)
  }
}

const contract = (name: string, harnessLayer: Layer.Layer<OAuthProviders | Harness, unknown>) =>
  layer(harnessLayer, { timeout: "30 seconds", excludeTestServices: true })(`OAuthProvider contract: ${name}`, (it) => {
    for (const provider of ["square", "quickbooks"] as const) {
      it.effect(`${provider}: authorize, exchange, refresh, revoke`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          const before = yield* harness.stats(provider)
          const { oauth, grant } = yield* connect(provider)
          assert.strictEqual(grant.accountId, harness.accountIds[provider])
          assert.isTrue(Redacted.isRedacted(grant.accessToken))
          assert.isNotNull(grant.refreshToken)
          assert.isString(grant.accountName)
          assert.includeMembers([...grant.scopes], [...oauth.scopes])
          assertLifetimes(provider, grant)

          const first = grant.refreshToken ?? Redacted.make("")
          const refreshed = yield* oauth.refresh(first)
          assertLifetimes(provider, refreshed)
          assert.notStrictEqual(Redacted.value(refreshed.accessToken), Redacted.value(grant.accessToken))
          const second = refreshed.refreshToken ?? Redacted.make("")
          const after = yield* harness.stats(provider)
          assert.strictEqual(after.exchanges - before.exchanges, 1)
          assert.strictEqual(after.refreshes - before.refreshes, 1)

          if (provider === "quickbooks") {
            // Rotation: a new refresh token each time, and the old one is dead.
            assert.notStrictEqual(Redacted.value(second), Redacted.value(first))
            const stale = yield* oauth.refresh(first).pipe(Effect.flip)
            assert.deepInclude(stale, { _tag: "OAuthGrantRejected", provider, code: "invalid_grant" })
            assert.strictEqual((yield* harness.stats(provider)).staleRefreshes - before.staleRefreshes, 1)
            assertClean(stale, [...harness.secrets, ...tokensOf(grant), ...tokensOf(refreshed)])
          } else {
            // Square's code flow hands back the same refresh token.
            assert.strictEqual(Redacted.value(second), Redacted.value(first))
          }

          yield* oauth.revoke({ accessToken: refreshed.accessToken, refreshToken: second })
          assert.strictEqual((yield* harness.stats(provider)).revocations - before.revocations, 1)
          const dead = yield* oauth.refresh(second).pipe(Effect.flip)
          assert.deepInclude(dead, { _tag: "OAuthGrantRejected", provider })
          assertClean(dead, [...harness.secrets, ...tokensOf(grant), ...tokensOf(refreshed)])
        })
      )

      it.effect(`${provider}: injected invalid_grant on refresh is OAuthGrantRejected`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          const { oauth, grant } = yield* connect(provider)
          yield* harness.fail(provider, "invalid_grant")
          const error = yield* oauth.refresh(grant.refreshToken ?? Redacted.make("")).pipe(Effect.flip)
          assert.strictEqual(error._tag, "OAuthGrantRejected")
          assert.strictEqual(error.provider, provider)
          assertClean(error, [...harness.secrets, ...tokensOf(grant)])
        })
      )

      for (const mode of ["server_error", "rate_limited", "timeout"] as const) {
        it.effect(`${provider}: ${mode} on refresh is a retryable ProviderUnavailable after exactly one call`, () =>
          Effect.gen(function* () {
            const harness = yield* Harness
            const { oauth, grant } = yield* connect(provider)
            const before = yield* harness.stats(provider)
            yield* harness.fail(provider, mode)
            const error = yield* oauth
              .refresh(grant.refreshToken ?? Redacted.make(""))
              .pipe(Effect.flip, Effect.ensuring(harness.recover(provider)))
            assert.deepInclude(error, { _tag: "ProviderUnavailable", provider, retryable: true })
            assert.strictEqual((yield* harness.stats(provider)).refreshes - before.refreshes, 1)
            assertClean(error, [...harness.secrets, ...tokensOf(grant)])
          })
        )
      }
    }

    it.effect("mailchimp: authorize, exchange with metadata; no refresh, revoke is a local no-op", () =>
      Effect.gen(function* () {
        const harness = yield* Harness
        const before = yield* harness.stats("mailchimp")
        const { oauth, grant } = yield* connect("mailchimp")
        assert.strictEqual(grant.accountId, harness.accountIds.mailchimp)
        assert.isString(grant.extra.dc)
        assert.isTrue(grant.accountId.startsWith(`${grant.extra.dc}:`))
        assert.isString(grant.extra.apiEndpoint)
        assert.isFalse(oauth.supportsPkce)
        assertLifetimes("mailchimp", grant)
        const refresh = yield* oauth.refresh(Redacted.make("anything")).pipe(Effect.flip)
        assert.deepInclude(refresh, { _tag: "OAuthGrantRejected", code: "unsupported_grant_type" })
        const revocation = yield* oauth.revoke({ accessToken: grant.accessToken, refreshToken: null })
        assert.isFalse(revocation.revoked, "nothing is sent, so nothing is claimed")
        if (!revocation.revoked) assert.match(revocation.reason, /no token revocation/)
        const after = yield* harness.stats("mailchimp")
        assert.strictEqual(after.exchanges - before.exchanges, 1)
        assert.strictEqual(after.refreshes, before.refreshes)
        assert.strictEqual(after.revocations, before.revocations)
      })
    )

    for (const mode of ["server_error", "rate_limited", "timeout"] as const) {
      it.effect(`mailchimp: ${mode} on exchange is a retryable ProviderUnavailable`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          yield* harness.fail("mailchimp", mode)
          const error = yield* connect("mailchimp").pipe(Effect.flip, Effect.ensuring(harness.recover("mailchimp")))
          assert.deepInclude(error, { _tag: "ProviderUnavailable", provider: "mailchimp", retryable: true })
          assertClean(error, harness.secrets)
        })
      )
    }

    for (const provider of ["square", "quickbooks", "mailchimp"] as const) {
      it.effect(`${provider}: the granted access token opens the account; a made-up or revoked one is refused`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          const { oauth, grant } = yield* connect(provider)
          const probe = { accessToken: grant.accessToken, accountId: grant.accountId, extra: grant.extra }
          yield* oauth.verifyAccessToken(probe)
          const madeUp = yield* oauth
            .verifyAccessToken({ ...probe, accessToken: Redacted.make("0123456789abcdef0123456789abcdef") })
            .pipe(Effect.flip)
          assert.deepInclude(madeUp, { _tag: "OAuthGrantRejected", provider })
          assertClean(madeUp, [...harness.secrets, ...tokensOf(grant)])
          if (provider !== "mailchimp") {
            const revocation = yield* oauth.revoke({ accessToken: grant.accessToken, refreshToken: grant.refreshToken })
            assert.deepStrictEqual(revocation, { revoked: true })
            const revoked = yield* oauth.verifyAccessToken(probe).pipe(Effect.flip)
            assert.deepInclude(revoked, { _tag: "OAuthGrantRejected", provider })
          }
        })
      )

      it.effect(`${provider}: a denied consent comes back as access_denied with the state`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          const oauth = yield* (yield* OAuthProviders).get(provider)
          const state = crypto.randomUUID()
          const query = yield* harness.consent(
            oauth.authorizationUrl({ state, redirectUri, codeChallenge: null }),
            true
          )
          assert.deepStrictEqual(callbackOutcome(query), { _tag: "Denied", state, error: "access_denied" })
        })
      )

      it.effect(`${provider}: a code is single-use and expires after 5 minutes`, () =>
        Effect.gen(function* () {
          const harness = yield* Harness
          const { oauth, exchange, grant } = yield* connect(provider)
          const replay = yield* oauth.exchangeCode(exchange).pipe(Effect.flip)
          assert.deepInclude(replay, { _tag: "OAuthGrantRejected", provider })
          assertClean(replay, [...harness.secrets, ...tokensOf(grant)])

          const state = crypto.randomUUID()
          const query = yield* harness.consent(oauth.authorizationUrl({ state, redirectUri, codeChallenge: null }))
          yield* harness.advance(5 * 60_000 + 1_000)
          const late = yield* oauth
            .exchangeCode({ code: query.code ?? "", redirectUri, codeVerifier: null, callbackQuery: query })
            .pipe(Effect.flip)
          assert.deepInclude(late, { _tag: "OAuthGrantRejected", provider })
        })
      )
    }

    it.effect("square: PKCE S256 — the right verifier redeems the code, refresh rotates", () =>
      Effect.gen(function* () {
        const pkce = yield* newPkce
        const { oauth, grant } = yield* connect("square", pkce)
        assert.isTrue(oauth.supportsPkce)
        const first = grant.refreshToken ?? Redacted.make("")
        const refreshed = yield* oauth.refresh(first)
        assert.notStrictEqual(Redacted.value(refreshed.refreshToken ?? first), Redacted.value(first))
        const stale = yield* oauth.refresh(first).pipe(Effect.flip)
        assert.strictEqual(stale._tag, "OAuthGrantRejected")
      })
    )

    it.effect("square: PKCE — a wrong verifier or none is refused", () =>
      Effect.gen(function* () {
        const harness = yield* Harness
        const oauth = yield* (yield* OAuthProviders).get("square")
        for (const verifier of [(yield* newPkce).verifier, null]) {
          const pkce = yield* newPkce
          const state = crypto.randomUUID()
          const query = yield* harness.consent(
            oauth.authorizationUrl({ state, redirectUri, codeChallenge: pkce.challenge })
          )
          const error = yield* oauth
            .exchangeCode({
              code: query.code ?? "",
              redirectUri,
              codeVerifier: verifier === null ? null : Redacted.make(verifier),
              callbackQuery: query
            })
            .pipe(Effect.flip)
          assert.deepInclude(error, { _tag: "OAuthGrantRejected", provider: "square" })
          assertClean(error, [...harness.secrets, pkce.verifier])
        }
      })
    )

    it.effect("quickbooks: a callback without realmId is refused before any call", () =>
      Effect.gen(function* () {
        const harness = yield* Harness
        const oauth = yield* (yield* OAuthProviders).get("quickbooks")
        const before = yield* harness.stats("quickbooks")
        const error = yield* oauth
          .exchangeCode({ code: "whatever", redirectUri, codeVerifier: null, callbackQuery: { code: "whatever" } })
          .pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "OAuthGrantRejected", code: "missing_realm_id" })
        assert.strictEqual((yield* harness.stats("quickbooks")).exchanges, before.exchanges)
      })
    )
  })

contract("official SDKs against the sandbox fakes", SandboxHarness)
contract("in-memory", MemoryHarness)

interface MailchimpApiClient {
  basePath: string
  setConfig: (config: { accessToken: string; server: string }) => void
  ping: { get: () => Promise<{ health_status: string }> }
}
const MailchimpApiClient = createRequire(import.meta.url)(
  "@mailchimp/mailchimp_marketing/src/ApiClient.js"
) as new () => MailchimpApiClient

/** The fakes' data endpoints as the SDKs see them, and what a lost QuickBooks rotation looks like. */
layer(SandboxHarness, { timeout: "30 seconds", excludeTestServices: true })(
  "sandbox fakes on the SDKs' data wire",
  (it) => {
    it.effect("Square: ListLocations opens with the granted token; bad and revoked tokens get Square's 401 codes", () =>
      Effect.gen(function* () {
        const { oauth, grant } = yield* connect("square")
        const baseUrl = new URL(oauth.authorizationUrl({ state: "s", redirectUri, codeChallenge: null })).origin
        const list = (token: string) =>
          Effect.tryPromise({
            try: () => new SquareClient({ token, baseUrl, maxRetries: 0 }).locations.list(),
            catch: (e) => e as SquareError
          })
        const locations = yield* list(Redacted.value(grant.accessToken))
        assert.strictEqual(locations.locations?.[0]?.merchantId, grant.accountId)
        const bad = yield* list("EAAAnot-a-token").pipe(Effect.flip)
        assert.strictEqual(bad.statusCode, 401)
        assert.deepInclude(bad.errors[0], { category: "AUTHENTICATION_ERROR", code: "UNAUTHORIZED" })
        yield* oauth.revoke({ accessToken: grant.accessToken, refreshToken: grant.refreshToken })
        const revoked = yield* list(Redacted.value(grant.accessToken)).pipe(Effect.flip)
        assert.strictEqual(revoked.errors[0]?.code, "ACCESS_TOKEN_REVOKED")
      })
    )

    it.effect(
      "QuickBooks: companyinfo opens with the granted token; a bad one gets the 3200 AUTHENTICATION fault",
      () =>
        Effect.gen(function* () {
          const { oauth, grant } = yield* connect("quickbooks")
          const base = new URL(oauth.authorizationUrl({ state: "s", redirectUri, codeChallenge: null })).origin
          const info = (token: string) =>
            Effect.promise(async () => {
              const realm = grant.accountId
              const r = await fetch(`${base}/v3/company/${realm}/companyinfo/${realm}?minorversion=75`, {
                headers: { authorization: `Bearer ${token}`, accept: "application/json" }
              })
              return { status: r.status, body: (await r.json()) as Record<string, any> }
            })
          const ok = yield* info(Redacted.value(grant.accessToken))
          assert.strictEqual(ok.status, 200)
          assert.strictEqual(ok.body.CompanyInfo.CompanyName, grant.accountName)
          const bad = yield* info("nope")
          assert.strictEqual(bad.status, 401)
          assert.strictEqual(bad.body.Fault.type, "AUTHENTICATION")
          assert.strictEqual(bad.body.Fault.Error[0].code, "3200")
        })
    )

    it.effect("QuickBooks: a refresh answered too late still rotated — the old refresh token is dead and counted", () =>
      Effect.gen(function* () {
        const harness = yield* Harness
        const { oauth, grant } = yield* connect("quickbooks")
        const before = yield* harness.stats("quickbooks")
        yield* harness.fail("quickbooks", "timeout")
        const lost = yield* oauth.refresh(grant.refreshToken ?? Redacted.make("")).pipe(Effect.flip)
        assert.deepInclude(lost, { _tag: "ProviderUnavailable", retryable: true })
        yield* Effect.sleep("900 millis")
        yield* harness.recover("quickbooks")
        const retry = yield* oauth.refresh(grant.refreshToken ?? Redacted.make("")).pipe(Effect.flip)
        assert.deepInclude(retry, { _tag: "OAuthGrantRejected", code: "invalid_grant" })
        assert.strictEqual((yield* harness.stats("quickbooks")).staleRefreshes - before.staleRefreshes, 1)
      })
    )

    it.effect(
      "Mailchimp: the marketing SDK pings at the metadata's api_endpoint; a bad token gets the problem+json 401",
      () =>
        Effect.gen(function* () {
          const { grant } = yield* connect("mailchimp")
          const ping = (token: string) =>
            Effect.tryPromise({
              try: () => {
                const client = new MailchimpApiClient()
                client.setConfig({ accessToken: token, server: grant.extra.dc ?? "" })
                client.basePath = `${grant.extra.apiEndpoint}/3.0`
                return client.ping.get()
              },
              catch: (e) => e as { status: number; response: { body: { title: string; status: number } } }
            })
          const health = yield* ping(Redacted.value(grant.accessToken))
          assert.strictEqual(health.health_status, "Everything's Chimpy!")
          const bad = yield* ping("0123456789abcdef").pipe(Effect.flip)
          assert.strictEqual(bad.status, 401)
          assert.deepInclude(bad.response.body, { title: "API Key Invalid", status: 401 })
        })
    )
  }
)
