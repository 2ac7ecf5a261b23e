import { createHash } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { bearerToken, json, type Reply, redirect, serveReplies, text } from "./FakeHttp.ts"
import { type FakeOAuthFailure, fakeOAuthState, randomToken as token } from "./FakeOAuth.ts"
import { fakeSquareCustomAttributes } from "./FakeSquareCustomAttributes.ts"
import { fakeSquareData } from "./FakeSquareData.ts"

export type { FakeOAuthFailure } from "./FakeOAuth.ts"
export type { FakeSquareEntity, FakeSquareInjection, FakeSquareRequest } from "./FakeSquareData.ts"

/**
 * Square's OAuth, the seller's data (FakeSquareData) and the customer custom attribute
 * definitions (FakeSquareCustomAttributes), on the
 * wire the `square` SDK speaks (PROVIDERS.md §1a, §1f, §3, §8): JSON token
 * endpoint, `expires_at` ISO, `merchant_id`, code flow keeps its refresh
 * token, PKCE rotates it, revoke with `Authorization: Client <secret>`.
 */
export interface FakeSquareOptions {
  readonly port?: number
  readonly clientId?: string
  readonly clientSecret?: string
  readonly merchantId?: string
  readonly businessName?: string
}

interface Code {
  readonly clientId: string
  readonly redirectUri: string | null
  readonly scopes: ReadonlyArray<string>
  readonly challenge: string | null
  /** The merchant the user signed in as on the consent page. */
  readonly merchant: string
  readonly issuedAt: number
  used: boolean
}

interface Grant {
  readonly merchant: string
  readonly pkce: boolean
  readonly scopes: ReadonlyArray<string>
  revoked: boolean
}

interface AccessToken {
  readonly grant: Grant
  expiresAt: number
}

const DAY = 86_400_000
const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url")

const squareError = (category: string, code: string, detail: string, field?: string) => ({
  errors: [{ category, code, detail, ...(field === undefined ? {} : { field }) }]
})
const unauthorized = (code: string, detail: string) => squareError("AUTHENTICATION_ERROR", code, detail)
const secretRequired = () =>
  json(
    400,
    squareError("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "client_secret is required", "client_secret")
  )

export const startFakeSquare = async (options: FakeSquareOptions = {}) => {
  const clientId = options.clientId ?? "sq0idp-fake-application"
  const clientSecret = options.clientSecret ?? "sq0csp-fake-application-secret"
  const merchantId = options.merchantId ?? "MLFAKEMERCHANT01"
  const businessName = options.businessName ?? "Fake Square Venue"

  const codes = new Map<string, Code>()
  const refreshTokens = new Map<string, Grant>()
  const accessTokens = new Map<string, AccessToken>()
  const rotated = new Set<string>()
  const stats = { authorizations: 0, exchanges: 0, refreshes: 0, revocations: 0, staleRefreshes: 0 }
  const oauth = fakeOAuthState()
  const { now, takeFailure } = oauth

  const failureReply = (mode: FakeOAuthFailure) => {
    if (mode === "invalid_grant") return json(401, unauthorized("UNAUTHORIZED", "The grant is invalid or revoked."))
    if (mode === "rate_limited")
      return json(429, squareError("RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited."), { "retry-after": "1" })
    return json(500, squareError("API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error occurred."))
  }

  const issue = (grant: Grant, refreshToken: string) => {
    const accessToken = token("EAAAl")
    const expiresAt = now() + 30 * DAY
    accessTokens.set(accessToken, { grant, expiresAt })
    return json(200, {
      access_token: accessToken,
      token_type: "bearer",
      expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
      merchant_id: grant.merchant,
      refresh_token: refreshToken,
      short_lived: false,
      ...(grant.pkce ? { refresh_token_expires_at: new Date(now() + 90 * DAY).toISOString() } : {})
    })
  }

  const bearer = (req: IncomingMessage): AccessToken | { readonly error: object } => {
    const found = accessTokens.get(bearerToken(req))
    if (found === undefined) return { error: unauthorized("UNAUTHORIZED", "This request could not be authorized.") }
    if (found.grant.revoked)
      return { error: unauthorized("ACCESS_TOKEN_REVOKED", "The access token has been revoked.") }
    if (found.expiresAt <= now())
      return { error: unauthorized("ACCESS_TOKEN_EXPIRED", "The access token has expired.") }
    return found
  }

  const authorize = (url: URL) => {
    const q = url.searchParams
    const redirectUri = q.get("redirect_uri")
    if (q.get("client_id") !== clientId || redirectUri === null) {
      return text(400, "Invalid client_id or redirect_uri")
    }
    const method = q.get("code_challenge_method")
    if (method !== null && method !== "S256") {
      return text(400, "Only S256 code challenges are supported")
    }
    stats.authorizations += 1
    const target = new URL(redirectUri)
    const state = q.get("state")
    if (state !== null) target.searchParams.set("state", state)
    if (q.get("deny") === "1") {
      target.searchParams.set("error", "access_denied")
      target.searchParams.set("error_description", "user_denied")
    } else {
      const code = token("sq0cgb-")
      codes.set(code, {
        clientId,
        redirectUri,
        scopes: (q.get("scope") ?? "").split(/[ +]/).filter((s) => s !== ""),
        challenge: q.get("code_challenge"),
        merchant: q.get("account") ?? merchantId,
        issuedAt: now(),
        used: false
      })
      target.searchParams.set("code", code)
      target.searchParams.set("response_type", "code")
    }
    return redirect(target)
  }

  const obtainToken = (body: Record<string, unknown>) => {
    const grantType = body.grant_type
    if (grantType === "refresh_token") stats.refreshes += 1
    else stats.exchanges += 1
    const failed = takeFailure()
    if (failed !== null) return failureReply(failed)
    if (body.client_id !== clientId) return json(401, unauthorized("UNAUTHORIZED", "Invalid client_id."))
    const secret = body.client_secret
    if (secret !== undefined && secret !== null && secret !== clientSecret)
      return json(401, unauthorized("UNAUTHORIZED", "Invalid client_secret."))

    if (grantType === "authorization_code") {
      const code = oauth.redeem(typeof body.code === "string" ? codes.get(body.code) : undefined)
      if (code === undefined)
        return json(401, unauthorized("UNAUTHORIZED", "Invalid, expired or redeemed authorization code."))
      if (code.redirectUri !== null && body.redirect_uri !== code.redirectUri)
        return json(400, squareError("INVALID_REQUEST_ERROR", "INVALID_VALUE", "redirect_uri mismatch", "redirect_uri"))
      if (code.challenge !== null) {
        if (typeof body.code_verifier !== "string" || s256(body.code_verifier) !== code.challenge)
          return json(401, unauthorized("UNAUTHORIZED", "code_verifier does not match the code_challenge."))
      } else if (secret !== clientSecret) {
        return secretRequired()
      }
      const grant: Grant = {
        merchant: code.merchant,
        pkce: code.challenge !== null,
        scopes: code.scopes,
        revoked: false
      }
      const refreshToken = token("EQAAl")
      refreshTokens.set(refreshToken, grant)
      return issue(grant, refreshToken)
    }

    if (grantType === "refresh_token") {
      const presented = typeof body.refresh_token === "string" ? body.refresh_token : ""
      const grant = refreshTokens.get(presented)
      if (grant === undefined || grant.revoked) {
        if (grant === undefined && rotated.has(presented)) stats.staleRefreshes += 1
        return json(401, unauthorized("UNAUTHORIZED", "Invalid or revoked refresh token."))
      }
      if (!grant.pkce && secret !== clientSecret) return secretRequired()
      if (!grant.pkce) return issue(grant, presented)
      refreshTokens.delete(presented)
      rotated.add(presented)
      const next = token("EQAAl")
      refreshTokens.set(next, grant)
      return issue(grant, next)
    }
    return json(400, squareError("INVALID_REQUEST_ERROR", "INVALID_VALUE", "Unsupported grant_type", "grant_type"))
  }

  const revoke = (req: IncomingMessage, body: Record<string, unknown>) => {
    stats.revocations += 1
    const failed = takeFailure()
    if (failed !== null) return failureReply(failed)
    if (req.headers.authorization !== `Client ${clientSecret}` || body.client_id !== clientId)
      return json(401, unauthorized("UNAUTHORIZED", "Not authorized to revoke tokens for this application."))
    const target =
      typeof body.access_token === "string"
        ? accessTokens.get(body.access_token)?.grant
        : body.merchant_id === merchantId
          ? [...refreshTokens.values()].find((g) => !g.revoked)
          : undefined
    if (target === undefined || target.revoked)
      return json(404, squareError("INVALID_REQUEST_ERROR", "NOT_FOUND", "Access token not found."))
    // One revocation ends every token the application holds for the merchant.
    for (const grant of refreshTokens.values()) grant.revoked = true
    for (const access of accessTokens.values()) access.grant.revoked = true
    return json(200, { success: true })
  }

  const attributes = fakeSquareCustomAttributes()
  const data = fakeSquareData({ now, merchantId, businessName })

  const server = await serveReplies({
    port: options.port,
    respond: ({ req, url, route, body }): Reply => {
      const payload = (): Record<string, unknown> => (body === "" ? {} : (JSON.parse(body) as Record<string, unknown>))
      if (route === "GET /oauth2/authorize") return authorize(url)
      if (route === "POST /oauth2/token") return obtainToken(payload())
      if (route === "POST /oauth2/revoke") return revoke(req, payload())
      if (route === "POST /oauth2/token/status") {
        const found = bearer(req)
        if ("error" in found) return json(401, found.error)
        return json(200, {
          scopes: found.grant.scopes,
          expires_at: new Date(found.expiresAt).toISOString(),
          client_id: clientId,
          merchant_id: found.grant.merchant
        })
      }
      if (route === "GET /v2/customers/custom-attribute-definitions") {
        const found = bearer(req)
        if ("error" in found) return json(401, found.error)
        return attributes.list(url)
      }
      if (/^(GET|POST|PUT|DELETE) \/v2\//.test(route)) {
        const found = bearer(req)
        if ("error" in found) return json(401, found.error)
        const served = data.serve({
          route,
          url,
          body: payload,
          merchant: found.grant.merchant,
          scopes: found.grant.scopes
        })
        if (served !== null) return served
      }
      return json(404, squareError("INVALID_REQUEST_ERROR", "NOT_FOUND", `No route for ${route}`))
    },
    malformed: () => json(400, squareError("INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "Invalid JSON body.")),
    beforeReply: async (url) => {
      await oauth.delay(url.pathname.startsWith("/oauth2/"))
      await data.delay(url)
    }
  })

  return {
    url: server.url,
    clientId,
    clientSecret,
    merchantId,
    businessName,
    /** Calls seen per endpoint; `staleRefreshes` counts refreshes with an already-rotated token. */
    stats: () => ({ ...stats }),
    ...oauth.controls,
    ...attributes.controls,
    ...data.controls,
    /** A live access token for the merchant, as if it had connected with these scopes (default: the read scopes and the writes outbound sync makes). */
    issueAccessToken: (
      accountId: string,
      scopes: ReadonlyArray<string> = [
        "MERCHANT_PROFILE_READ",
        "CUSTOMERS_READ",
        "ITEMS_READ",
        "ORDERS_READ",
        "PAYMENTS_READ",
        "CUSTOMERS_WRITE",
        "ITEMS_WRITE",
        "INVENTORY_WRITE"
      ]
    ) => {
      const accessToken = token("EAAAl")
      accessTokens.set(accessToken, {
        grant: { merchant: accountId, pkce: false, scopes, revoked: false },
        expiresAt: now() + 30 * DAY
      })
      return accessToken
    },
    /** The token's 30 days are over: Square answers 401 `ACCESS_TOKEN_EXPIRED`. */
    expireAccessToken: (accessToken: string) => {
      const found = accessTokens.get(accessToken)
      if (found === undefined) throw new Error("unknown access token")
      found.expiresAt = now()
    },
    close: server.close
  }
}

export type FakeSquare = Awaited<ReturnType<typeof startFakeSquare>>
