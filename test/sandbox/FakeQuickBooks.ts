import { randomBytes } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { bearerToken, json as jsonReply, type Reply, redirect, serveReplies, text } from "./FakeHttp.ts"
import { type AuthorizationCode, type FakeOAuthFailure, fakeOAuthState, randomToken as token } from "./FakeOAuth.ts"
import { fakeQuickBooksData } from "./FakeQuickBooksData.ts"
import { fakeQuickBooksPreferences } from "./FakeQuickBooksPreferences.ts"

export type { FakeOAuthFailure } from "./FakeOAuth.ts"

/**
 * Intuit's OAuth 2 server and the QuickBooks Online company-info endpoint, on
 * the wire `intuit-oauth` speaks (PROVIDERS.md §1a, §1f, §4, §8): form body +
 * Basic client auth, 1 h access tokens, refresh tokens that rotate on every
 * refresh (the old one is dead after use, so a lost rotation shows up as
 * `invalid_grant` and in `staleRefreshes`), `realmId` on the redirect (the company the user chose; its tokens open
 * that company only). No PKCE.
 * Paths are Intuit's: `/connect/oauth2`, `/oauth2/v1/tokens/bearer`,
 * `/v2/oauth2/tokens/revoke`, `/v3/company/{realm}/companyinfo/{realm}`, `/v3/company/{realm}/preferences`
 * (sales-form custom fields: FakeQuickBooksPreferences), `/v3/company/{realm}/query` and `/cdc` (sync reads),
 * `POST /{entity}` and `GET /{entity}/{id}` (sync writes), with the budget and injected failures: FakeQuickBooksData.
 */
export interface FakeQuickBooksOptions {
  readonly port?: number
  readonly clientId?: string
  readonly clientSecret?: string
  readonly realmId?: string
  readonly companyName?: string
}

interface Code extends AuthorizationCode {
  readonly redirectUri: string
  /** The company the user chose on the consent page. */
  readonly realm: string
}

interface Grant {
  readonly realm: string
  revoked: boolean
}

const accessLifetimeSeconds = 3600
const refreshLifetimeSeconds = 8_726_400
const hardLifetimeSeconds = 5 * 365 * 86_400

// Intuit stamps every answer with a transaction id.
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  jsonReply(status, body, { intuit_tid: randomBytes(8).toString("hex"), ...headers })

const authenticationFault = () => ({
  Fault: {
    Error: [
      {
        Message: "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        Detail: "Token expired or revoked",
        code: "3200"
      }
    ],
    type: "AUTHENTICATION"
  },
  time: new Date().toISOString()
})

export const startFakeQuickBooks = async (options: FakeQuickBooksOptions = {}) => {
  const clientId = options.clientId ?? "ABfakeQuickBooksClientId"
  const clientSecret = options.clientSecret ?? "fakeQuickBooksClientSecret"
  const realmId = options.realmId ?? "9341450000000001"
  const companyName = options.companyName ?? "Fake QuickBooks Venue LLC"

  const codes = new Map<string, Code>()
  const refreshTokens = new Map<string, { grant: Grant; expiresAt: number }>()
  const rotated = new Set<string>()
  const accessTokens = new Map<string, { grant: Grant; expiresAt: number }>()
  const stats = { authorizations: 0, exchanges: 0, refreshes: 0, revocations: 0, staleRefreshes: 0 }
  const oauth = fakeOAuthState()
  const { now, takeFailure } = oauth

  const failureReply = (mode: FakeOAuthFailure) => {
    if (mode === "invalid_grant") return json(400, { error: "invalid_grant" })
    if (mode === "rate_limited") return json(429, { error: "rate_limit_exceeded" }, { "retry-after": "60" })
    return json(503, { error: "server_error", error_description: "Service Unavailable" })
  }

  const clientAuthenticated = (req: IncomingMessage) =>
    req.headers.authorization === `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`

  const issue = (req: IncomingMessage, grant: Grant) => {
    const accessToken = token("eyJfakeQboAccess.")
    const refreshToken = token("AB11fakeQboRefresh")
    accessTokens.set(accessToken, { grant, expiresAt: now() + accessLifetimeSeconds * 1000 })
    refreshTokens.set(refreshToken, { grant, expiresAt: now() + refreshLifetimeSeconds * 1000 })
    return json(200, {
      token_type: "bearer",
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: accessLifetimeSeconds,
      x_refresh_token_expires_in: refreshLifetimeSeconds,
      ...(req.headers["x-include-refresh-token-hard-expires-in"] === "true"
        ? { x_refresh_token_hard_expires_in: hardLifetimeSeconds }
        : {})
    })
  }

  const authorize = (url: URL) => {
    const q = url.searchParams
    const redirectUri = q.get("redirect_uri")
    if (q.get("client_id") !== clientId || redirectUri === null || q.get("response_type") !== "code") {
      return text(400, "invalid_request")
    }
    stats.authorizations += 1
    const target = new URL(redirectUri)
    const state = q.get("state")
    if (q.get("deny") === "1") {
      target.searchParams.set("error", "access_denied")
      if (state !== null) target.searchParams.set("state", state)
    } else {
      const realm = q.get("account") ?? realmId
      const code = token("AB11fakeCode")
      codes.set(code, { redirectUri, issuedAt: now(), used: false, realm })
      target.searchParams.set("code", code)
      if (state !== null) target.searchParams.set("state", state)
      target.searchParams.set("realmId", realm)
    }
    return redirect(target)
  }

  const tokenEndpoint = (req: IncomingMessage, form: URLSearchParams) => {
    const grantType = form.get("grant_type")
    if (grantType === "refresh_token") stats.refreshes += 1
    else stats.exchanges += 1
    const failed = takeFailure()
    if (failed !== null) return failureReply(failed)
    if (!clientAuthenticated(req)) return json(401, { error: "invalid_client" })
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
      return json(400, { error: "invalid_request" })

    if (grantType === "authorization_code") {
      const code = oauth.redeem(codes.get(form.get("code") ?? ""))
      if (code === undefined) return json(400, { error: "invalid_grant" })
      if (form.get("redirect_uri") !== code.redirectUri) return json(400, { error: "invalid_grant" })
      return issue(req, { revoked: false, realm: code.realm })
    }
    if (grantType === "refresh_token") {
      const presented = form.get("refresh_token") ?? ""
      const found = refreshTokens.get(presented)
      if (found === undefined || found.grant.revoked || found.expiresAt <= now()) {
        if (rotated.has(presented)) stats.staleRefreshes += 1
        return json(400, { error: "invalid_grant" })
      }
      refreshTokens.delete(presented)
      rotated.add(presented)
      return issue(req, found.grant)
    }
    return json(400, { error: "unsupported_grant_type" })
  }

  const revoke = (req: IncomingMessage, raw: string) => {
    stats.revocations += 1
    const failed = takeFailure()
    if (failed !== null) return failureReply(failed)
    if (!clientAuthenticated(req)) return json(401, { error: "invalid_client" })
    const presented = (JSON.parse(raw === "" ? "{}" : raw) as { token?: string }).token ?? ""
    const grant = refreshTokens.get(presented)?.grant ?? accessTokens.get(presented)?.grant
    if (grant !== undefined) grant.revoked = true
    // RFC 7009: an unknown token is not an error.
    return { status: 200, headers: {}, body: "" }
  }

  /** The refusal for a request whose token does not open `realm`, or undefined when it does. */
  const refused = (req: IncomingMessage, realm: string) => {
    const found = accessTokens.get(bearerToken(req))
    if (found === undefined || found.grant.revoked || found.expiresAt <= now())
      return json(401, authenticationFault(), { "www-authenticate": 'Bearer realm="Intuit"' })
    // A token opens the company it was granted for, and no other.
    if (realm !== found.grant.realm) return json(403, authenticationFault())
    return undefined
  }

  let companyInfoOutages = 0
  const companyInfo = (req: IncomingMessage, realm: string) => {
    if (companyInfoOutages > 0) {
      companyInfoOutages -= 1
      return json(503, { Fault: { Error: [{ Message: "Service Unavailable", code: "503" }], type: "SERVICE" } })
    }
    const refusal = refused(req, realm)
    if (refusal !== undefined) return refusal
    return json(200, {
      CompanyInfo: {
        CompanyName: companyName,
        LegalName: companyName,
        Country: "US",
        domain: "QBO",
        sparse: false,
        Id: "1",
        SyncToken: "4",
        MetaData: { CreateTime: "2026-01-01T00:00:00-08:00", LastUpdatedTime: "2026-01-01T00:00:00-08:00" }
      },
      time: new Date(now()).toISOString()
    })
  }

  const preferences = fakeQuickBooksPreferences(json, now)
  const data = fakeQuickBooksData(json, now)

  const server = await serveReplies({
    port: options.port,
    respond: ({ req, url, route, body }) => {
      if (route === "GET /connect/oauth2") return authorize(url)
      if (route === "POST /oauth2/v1/tokens/bearer") return tokenEndpoint(req, new URLSearchParams(body))
      if (route === "POST /v2/oauth2/tokens/revoke") return revoke(req, body)
      const v3 = /^\/v3\/company\/([^/]+)\/(.+)$/.exec(url.pathname)
      const gated = v3 === null ? undefined : data.gate(v3[1] ?? "", url)
      if (gated !== undefined) return gated
      const served = v3 === null ? undefined : data.respond(req.method, v3[1] ?? "", url, v3[2] ?? "", body)
      if (served !== undefined) return refused(req, v3?.[1] ?? "") ?? served()
      const info = /^\/v3\/company\/([^/]+)\/companyinfo\/([^/]+)$/.exec(url.pathname)
      if (req.method === "GET" && info !== null && info[1] === info[2]) return companyInfo(req, info[1] ?? "")
      const prefs = /^\/v3\/company\/([^/]+)\/preferences$/.exec(url.pathname)
      if (req.method === "GET" && prefs !== null) return refused(req, prefs[1] ?? "") ?? preferences.preferences()
      return json(404, { error: "not_found" })
    },
    malformed: () => json(400, { error: "invalid_request" }),
    beforeReply: async (url) => {
      await oauth.delay(!url.pathname.startsWith("/v3/"))
      await data.delay(url)
    }
  })

  return {
    url: server.url,
    clientId,
    clientSecret,
    realmId,
    companyName,
    /** Calls seen per endpoint; `staleRefreshes` counts refreshes with an already-rotated token. */
    stats: () => ({ ...stats }),
    ...oauth.controls,
    ...preferences.controls,
    ...data.controls,
    /** An access token for a company without the consent dance (what a connected account holds). */
    accessTokenFor: (realm: string = realmId) => {
      const accessToken = token("eyJfakeQboAccess.")
      accessTokens.set(accessToken, {
        grant: { realm, revoked: false },
        expiresAt: now() + accessLifetimeSeconds * 1000
      })
      return accessToken
    },
    /** The token's hour is up: the API answers 401 with the 3200 AuthenticationFailed fault. */
    expireAccessToken: (accessToken: string) => {
      const found = accessTokens.get(accessToken)
      if (found !== undefined) found.expiresAt = 0
    },
    /** The next `times` CompanyInfo calls answer 503. */
    companyInfoOutage: (times = 1) => {
      companyInfoOutages = times
    },
    close: server.close
  }
}

export type FakeQuickBooks = Awaited<ReturnType<typeof startFakeQuickBooks>>
