import { randomBytes, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"

/**
 * Mailchimp's OAuth 2 server (login.mailchimp.com) and the `/3.0/ping` health
 * check, on the documented wire (PROVIDERS.md §1a, §1f, §5, §8): form token
 * endpoint answering `expires_in: 0` and `scope: null` with no refresh token,
 * `/oauth2/metadata` read with `Authorization: OAuth <token>` that answers 200
 * `{"error":"invalid_token"}` for a bad token, no revocation endpoint. The
 * metadata's `api_endpoint` points back here so the marketing SDK hits the fake.
 */
export type FakeOAuthFailure = "invalid_grant" | "server_error" | "rate_limited"

export interface FakeMailchimpOptions {
  readonly port?: number
  readonly clientId?: string
  readonly clientSecret?: string
  readonly dc?: string
  readonly userId?: number
  readonly accountName?: string
}

interface Code {
  readonly redirectUri: string
  readonly issuedAt: number
  used: boolean
}

const codeLifetime = 5 * 60_000
const token = () => randomBytes(16).toString("hex")

interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const text = (status: number, body: string): Reply => ({ status, headers: { "content-type": "text/plain" }, body })

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const json = (status: number, body: unknown, contentType = "application/json"): Reply => ({
  status,
  headers: { "content-type": contentType },
  body: JSON.stringify(body)
})

const problem = (status: number, title: string, detail: string) =>
  json(
    status,
    {
      type: "https://mailchimp.com/developer/marketing/docs/errors/",
      title,
      status,
      detail,
      instance: randomUUID()
    },
    "application/problem+json; charset=utf-8"
  )

export const startFakeMailchimp = async (options: FakeMailchimpOptions = {}) => {
  const clientId = options.clientId ?? "123456789012"
  const clientSecret = options.clientSecret ?? "fakeMailchimpClientSecret0123456789abcdef"
  const dc = options.dc ?? "us19"
  const userId = options.userId ?? 4242
  const accountName = options.accountName ?? "Fake Mailchimp Venue"

  const codes = new Map<string, Code>()
  const accessTokens = new Set<string>()
  const stats = { authorizations: 0, exchanges: 0, refreshes: 0, revocations: 0, metadata: 0 }
  let delayMs = 0
  let offset = 0
  let failure: { mode: FakeOAuthFailure; remaining: number } | null = null
  let url = ""
  const now = () => Date.now() + offset

  const takeFailure = (): FakeOAuthFailure | null => {
    if (failure === null) return null
    const { mode } = failure
    failure.remaining -= 1
    if (failure.remaining <= 0) failure = null
    return mode
  }

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
    return { status: 302, headers: { location: target.toString() }, body: "" }
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
    const code = codes.get(form.get("code") ?? "")
    if (code === undefined || code.used || now() - code.issuedAt > codeLifetime)
      return json(400, { error: "invalid_grant", error_description: "Invalid authorization code" })
    code.used = true
    if (form.get("redirect_uri") !== code.redirectUri)
      return json(400, { error: "invalid_grant", error_description: "redirect_uri mismatch" })
    const accessToken = token()
    accessTokens.add(accessToken)
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

  const ping = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? ""
    const bearer = header.startsWith("Bearer ") ? header.slice(7) : ""
    if (!accessTokens.has(bearer))
      return problem(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter."
      )
    return json(200, { health_status: "Everything's Chimpy!" })
  }

  const server = createServer((req, res) => {
    const parsed = new URL(req.url ?? "/", "http://127.0.0.1")
    const route = `${req.method} ${parsed.pathname}`
    void readBody(req)
      .then((raw): Reply => {
        if (route === "GET /oauth2/authorize") return authorize(parsed.searchParams)
        if (route === "POST /oauth2/token") return tokenEndpoint(new URLSearchParams(raw))
        if (route === "GET /oauth2/metadata") return metadata(req)
        if (route === "GET /3.0/ping") return ping(req)
        return problem(404, "Resource Not Found", "The requested resource could not be found.")
      })
      .catch(() => problem(400, "Invalid Resource", "The request body could not be read."))
      .then(async (reply) => {
        // The request is processed at once and only the answer waits, as when a client times out on a slow provider.
        if (delayMs > 0 && parsed.pathname.startsWith("/oauth2/"))
          await new Promise((resolve) => setTimeout(resolve, delayMs))
        res.writeHead(reply.status, reply.headers)
        res.end(reply.body)
      })
  })

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    clientId,
    clientSecret,
    dc,
    userId,
    accountName,
    stats: () => ({ ...stats }),
    /** The next `times` token calls fail this way. */
    fail: (mode: FakeOAuthFailure, times = 1) => {
      failure = { mode, remaining: times }
    },
    /** Every OAuth response waits this long first. */
    setDelay: (ms: number) => {
      delayMs = ms
    },
    /** Moves the fake's clock (code expiry). */
    advance: (ms: number) => {
      offset += ms
    },
    /** What a user removing the app in Mailchimp does: the token stops working. */
    revokeToken: (accessToken: string) => {
      accessTokens.delete(accessToken)
    },
    /** Plays the account owner at the authorize page; returns the redirect's query. */
    consent: async (authorizeUrl: string, choice: { readonly deny?: boolean } = {}) => {
      const target = new URL(authorizeUrl)
      if (choice.deny === true) target.searchParams.set("deny", "1")
      const response = await fetch(target, { redirect: "manual" })
      const location = response.headers.get("location")
      if (response.status !== 302 || location === null) throw new Error(`authorize answered ${response.status}`)
      return Object.fromEntries(new URL(location).searchParams)
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      })
  }
}

export type FakeMailchimp = Awaited<ReturnType<typeof startFakeMailchimp>>
