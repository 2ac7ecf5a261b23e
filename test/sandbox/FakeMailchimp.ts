import { randomBytes, randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { bearerToken, json, type Reply, redirect, serveReplies, text } from "./FakeHttp.ts"
import { fakeMailchimpBatches } from "./FakeMailchimpBatches.ts"
import { fakeMailchimpData } from "./FakeMailchimpData.ts"
import { fakeMailchimpEcommerce } from "./FakeMailchimpEcommerce.ts"
import { type FakeAudience, fakeMailchimpLists } from "./FakeMailchimpLists.ts"
import { fakeMailchimpMergeFields } from "./FakeMailchimpMergeFields.ts"
import { type AuthorizationCode, fakeOAuthState } from "./FakeOAuth.ts"

export type { FakeBatch } from "./FakeMailchimpBatches.ts"
export type { FakeDataRequest, FakeMailchimpInjection, FakeMember, FakeMemberChange } from "./FakeMailchimpData.ts"
export type { FakeOrder, FakeOrderLine } from "./FakeMailchimpEcommerce.ts"
export type { FakeAudience, FakeListWebhook } from "./FakeMailchimpLists.ts"
export type { FakeMergeField } from "./FakeMailchimpMergeFields.ts"
export type { FakeOAuthFailure } from "./FakeOAuth.ts"

/**
 * Mailchimp's OAuth 2 server (login.mailchimp.com) and the `/3.0/ping` health
 * check, on the documented wire (PROVIDERS.md §1a, §1f, §5, §8): form token
 * endpoint answering `expires_in: 0` and `scope: null` with no refresh token,
 * `/oauth2/metadata` read with `Authorization: OAuth <token>` that answers 200
 * `{"error":"invalid_token"}` for a bad token, no revocation endpoint. The
 * metadata's `api_endpoint` points back here so the marketing SDK hits the fake.
 * The account's audiences and their webhooks: see FakeMailchimpLists; their merge fields: FakeMailchimpMergeFields;
 * their members, the API's limits and injected failures: FakeMailchimpData; batch operations and their results
 * archive: FakeMailchimpBatches; e-commerce stores, products and orders: FakeMailchimpEcommerce. Each token belongs to one account
 * (`<dc>:<user_id>`, the service's account id): the OAuth flow's to the fake's own user, `issueToken`'s to any.
 */
export interface FakeMailchimpOptions {
  readonly port?: number
  readonly clientId?: string
  readonly clientSecret?: string
  readonly dc?: string
  readonly userId?: number
  readonly accountName?: string
  readonly audiences?: ReadonlyArray<FakeAudience>
}

interface Code extends AuthorizationCode {
  readonly redirectUri: string
}

const token = () => randomBytes(16).toString("hex")

const problem = (status: number, title: string, detail: string, extra: object = {}) =>
  json(
    status,
    {
      type: "https://mailchimp.com/developer/marketing/docs/errors/",
      title,
      status,
      detail,
      instance: randomUUID(),
      ...extra
    },
    { "content-type": "application/problem+json; charset=utf-8" }
  )

export const startFakeMailchimp = async (options: FakeMailchimpOptions = {}) => {
  const clientId = options.clientId ?? "123456789012"
  const clientSecret = options.clientSecret ?? "fakeMailchimpClientSecret0123456789abcdef"
  const dc = options.dc ?? "us19"
  const userId = options.userId ?? 4242
  const accountName = options.accountName ?? "Fake Mailchimp Venue"
  const lists = fakeMailchimpLists(
    options.audiences ?? [
      { id: "5b3a7e9c21", name: "Box office newsletter" },
      { id: "a1f0c3d2e4", name: "Season members" }
    ],
    problem
  )
  const mergeFields = fakeMailchimpMergeFields(() => lists.controls.audiences().map((a) => a.id), problem)

  const codes = new Map<string, Code>()
  /** Access token → the account it opens. */
  const accessTokens = new Map<string, string>()
  const accountId = `${dc}:${userId}`
  const stats = { authorizations: 0, exchanges: 0, refreshes: 0, revocations: 0, metadata: 0, pings: 0 }
  const oauth = fakeOAuthState()
  const { now, takeFailure } = oauth
  const data = fakeMailchimpData({ now, audiences: () => lists.controls.audiences().map((a) => a.id), problem })
  const ecommerce = fakeMailchimpEcommerce({
    now,
    problem,
    audiences: () => lists.controls.audiences().map((a) => a.id)
  })
  /** What one request of the account is answered after `admit`: alone or as a batch's operation. */
  const execute = (account: string, method: string, requested: URL, body: string) =>
    data.respond(account, method, requested, body) ??
    ecommerce.respond(account, method, requested, body) ??
    mergeFields.respond(method, requested) ??
    lists.respond(method, requested, body)
  const batches = await fakeMailchimpBatches({ now, problem, execute })
  let url = ""

  const authorize = (search: URLSearchParams) => {
    const redirectUri = search.get("redirect_uri")
    if (search.get("client_id") !== clientId || redirectUri === null || search.get("response_type") !== "code") {
      return text(400, "Invalid client_id or redirect_uri")
    }
    stats.authorizations += 1
    const target = new URL(redirectUri)
    const state = search.get("state")
    if (search.get("deny") === "1") target.searchParams.set("error", "access_denied")
    else {
      const code = token()
      codes.set(code, { redirectUri, issuedAt: now(), used: false })
      target.searchParams.set("code", code)
    }
    if (state !== null) target.searchParams.set("state", state)
    return redirect(target)
  }

  const tokenEndpoint = (form: URLSearchParams) => {
    if (form.get("grant_type") === "refresh_token") stats.refreshes += 1
    else stats.exchanges += 1
    const failed = takeFailure()
    if (failed === "invalid_grant") return json(400, { error: "invalid_grant" })
    if (failed === "rate_limited") return json(429, { error: "too_many_requests" })
    if (failed === "server_error") return json(500, { error: "server_error" })
    if (form.get("client_id") !== clientId || form.get("client_secret") !== clientSecret)
      return json(401, { error: "invalid_client" })
    if (form.get("grant_type") !== "authorization_code") return json(400, { error: "unsupported_grant_type" })
    const code = oauth.redeem(codes.get(form.get("code") ?? ""))
    if (code === undefined)
      return json(400, { error: "invalid_grant", error_description: "Invalid authorization code" })
    if (form.get("redirect_uri") !== code.redirectUri)
      return json(400, { error: "invalid_grant", error_description: "redirect_uri mismatch" })
    const accessToken = token()
    accessTokens.set(accessToken, accountId)
    return json(200, { access_token: accessToken, expires_in: 0, scope: null })
  }

  const metadata = (req: IncomingMessage) => {
    stats.metadata += 1
    const header = req.headers.authorization ?? ""
    if (!header.startsWith("OAuth ") || !accessTokens.has(header.slice(6))) return json(200, { error: "invalid_token" })
    return json(200, {
      dc,
      role: "owner",
      accountname: accountName,
      user_id: userId,
      login: {
        email: "owner@example.test",
        avatar: null,
        login_id: userId,
        login_name: "owner",
        login_email: "owner@example.test"
      },
      login_url: url,
      api_endpoint: url
    })
  }

  const invalidKey = () =>
    problem(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")

  // The API answers with the fake's clock (which `advance` moves): the adapter reads a pass's start from Date.
  const dated = (reply: Reply): Reply => ({
    ...reply,
    headers: { date: new Date(now()).toUTCString(), ...reply.headers }
  })

  const api = (req: IncomingMessage, requested: URL, body: string) => {
    const account = accessTokens.get(bearerToken(req))
    if (account === undefined) return invalidKey()
    const method = req.method ?? "GET"
    return (
      data.admit(account, requested) ??
      batches.respond(account, method, requested, body) ??
      execute(account, method, requested, body)
    )
  }

  const ping = (req: IncomingMessage) => {
    stats.pings += 1
    if (!accessTokens.has(bearerToken(req))) return invalidKey()
    return json(200, { health_status: "Everything's Chimpy!" })
  }

  const server = await serveReplies({
    port: options.port,
    respond: ({ req, url: requested, route, body }) => {
      if (route === "GET /oauth2/authorize") return authorize(requested.searchParams)
      if (route === "POST /oauth2/token") return tokenEndpoint(new URLSearchParams(body))
      if (route === "GET /oauth2/metadata") return metadata(req)
      if (route === "GET /3.0/ping") return ping(req)
      if (["/3.0/lists", "/3.0/batches", "/3.0/ecommerce"].some((prefix) => requested.pathname.startsWith(prefix))) {
        const reply = api(req, requested, body)
        if (reply !== undefined) return dated(reply)
      }
      return problem(404, "Resource Not Found", "The requested resource could not be found.")
    },
    malformed: () => problem(400, "Invalid Resource", "The request body could not be read."),
    beforeReply: async (requested) => {
      await oauth.delay(requested.pathname.startsWith("/oauth2/"))
      await data.settle(requested)
    }
  })
  url = server.url

  return {
    url,
    clientId,
    clientSecret,
    dc,
    userId,
    accountName,
    /** The account the OAuth flow's tokens open, as the service names it. */
    accountId,
    stats: () => ({ ...stats, ...lists.stats(), ...mergeFields.stats() }),
    ...lists.controls,
    ...mergeFields.controls,
    ...oauth.controls,
    ...data.controls,
    ...batches.controls,
    ...ecommerce.controls,
    /** A token for `account` (default: the fake's own), as if that login had gone through the OAuth flow. */
    issueToken: (account: string = accountId) => {
      const accessToken = token()
      accessTokens.set(accessToken, account)
      return accessToken
    },
    /** What a user removing the app in Mailchimp does: the token stops working. */
    revokeToken: (accessToken: string) => {
      accessTokens.delete(accessToken)
    },
    close: async () => {
      await server.close()
      await batches.close()
    }
  }
}

export type FakeMailchimp = Awaited<ReturnType<typeof startFakeMailchimp>>
