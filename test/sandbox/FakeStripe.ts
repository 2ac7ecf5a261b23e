import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { listen, readBody } from "./FakeHttp.ts"
import { type FakeStripeDataControls, fakeStripeData } from "./FakeStripeData.ts"

export type {
  FakeStripeDataRequest,
  FakeStripeEntity,
  FakeStripeInjection,
  FakeStripeWritten
} from "./FakeStripeData.ts"

/** How a registered key behaves; restricted keys may be limited to a few paths, anything else answers 403. */
export interface FakeStripeKeyOptions {
  readonly accountId?: string
  readonly name?: string | null
  readonly allowedPaths?: ReadonlyArray<string>
}

export type FakeStripeFailure = "unavailable" | "slow" | "rate_limited"

export interface FakeStripeRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly stripeVersion: string | undefined
  readonly idempotencyKey: string | undefined
  readonly contentType: string | undefined
  readonly body: Record<string, unknown>
}

export interface FakeStripeWebhookEndpoint {
  readonly id: string
  readonly accountId: string
  readonly url: string
  readonly enabledEvents: ReadonlyArray<string>
  readonly secret: string
}

/**
 * The data controls (seed, upsertRecord, deleteRecord, records, products, prices, creations, inject, setRateLimit,
 * dataRequests, …): see FakeStripeData, which also answers the customer, product and price writes.
 */
export interface FakeStripe extends FakeStripeDataControls {
  readonly url: string
  readonly port: number
  readonly close: () => Promise<void>
  /** Registers a secret (`sk_…`) or restricted (`rk_…`) key; returns the account it opens. */
  readonly addKey: (key: string, options?: FakeStripeKeyOptions) => { readonly accountId: string }
  readonly revokeKey: (key: string) => void
  /** Every request answers with this failure until `setFailure(null)`; "slow" waits `delayMs` (default 5 s) first. */
  readonly setFailure: (failure: FakeStripeFailure | null, options?: { readonly delayMs?: number }) => void
  /** How many requests reached `path` (any method), or all requests without a path. */
  readonly requests: (path?: string) => number
  readonly requestLog: () => ReadonlyArray<FakeStripeRequest>
  readonly addCustomer: (
    accountId: string,
    fields?: { readonly email?: string; readonly name?: string }
  ) => Record<string, unknown>
  readonly webhookEndpoints: (accountId?: string) => ReadonlyArray<FakeStripeWebhookEndpoint>
  /** The key answers 401 `api_key_expired`, as Stripe answers an expired (rolled) key. */
  readonly expireKey: (key: string) => void
  /** Moves the fake's clock (`created` of new objects and events, the `Date` header) forward. */
  readonly advanceClock: (seconds: number) => void
}

interface KeyEntry {
  readonly accountId: string
  readonly livemode: boolean
  readonly allowedPaths: ReadonlyArray<string> | undefined
  expired?: boolean
}

interface AccountEntry {
  readonly id: string
  readonly name: string | null
  readonly created: number
}

interface Reply {
  readonly status: number
  readonly body: unknown
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const stripeId = (prefix: string, length = 24) =>
  `${prefix}_${Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join("")}`
const now = () => Math.floor(Date.now() / 1000)

/** Stripe's own mask: mode prefix, asterisks, last four characters. */
const maskKey = (key: string) => {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? ""
  const tail = key.length > prefix.length + 4 ? key.slice(-4) : ""
  return `${prefix}${"*".repeat(Math.max(key.length - prefix.length - tail.length, 4))}${tail}`
}

const stripeError = (status: number, error: Record<string, unknown>): Reply => ({ status, body: { error } })

const invalidRequest = (message: string, extra: Record<string, unknown> = {}) =>
  stripeError(400, { type: "invalid_request_error", message, ...extra })

const missingParam = (param: string) =>
  invalidRequest(`Missing required param: ${param}.`, {
    code: "parameter_missing",
    param,
    doc_url: "https://stripe.com/docs/error-codes/parameter-missing"
  })

const noSuch = (what: string, id: string) =>
  stripeError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    param: "id",
    message: `No such ${what}: '${id}'`,
    doc_url: "https://stripe.com/docs/error-codes/resource-missing"
  })

/** Decodes Stripe's form encoding (`a[b]=1&list[0]=x`) the way the SDK's encoder builds it. */
const parseForm = (text: string): Record<string, unknown> => {
  const root: Record<string, unknown> = {}
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const [head, ...rest] = rawKey.split("[").map((part, i) => (i === 0 ? part : part.replace(/\]$/, "")))
    let node: Record<string, unknown> = root
    let key = head ?? ""
    for (const segment of rest) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = /^\d*$/.test(segment) ? [] : {}
      node = node[key] as Record<string, unknown>
      key = segment === "" && Array.isArray(node) ? String(node.length) : segment
    }
    node[key] = value
  }
  return root
}

const stringList = (value: unknown): Array<string> | undefined =>
  Array.isArray(value) ? value.map(String) : typeof value === "string" ? [value] : undefined

/** A Stripe API server for tests: the real `stripe` SDK talks to it through its `host`/`port`/`protocol` options. */
export const startFakeStripe = async (
  options: { readonly port?: number; readonly keys?: Readonly<Record<string, FakeStripeKeyOptions>> } = {}
): Promise<FakeStripe> => {
  const keys = new Map<string, KeyEntry>()
  const accounts = new Map<string, AccountEntry>()
  let clockOffset = 0
  const clock = () => now() + clockOffset
  const data = fakeStripeData(clock)
  const endpoints = new Map<
    string,
    FakeStripeWebhookEndpoint & { readonly livemode: boolean; readonly created: number }
  >()
  const log: Array<FakeStripeRequest> = []
  const pendingTimers = new Set<NodeJS.Timeout>()
  let failure: { readonly mode: FakeStripeFailure; readonly delayMs: number } | null = null

  const addKey = (key: string, opts: FakeStripeKeyOptions = {}) => {
    const accountId = opts.accountId ?? stripeId("acct", 16)
    if (!accounts.has(accountId)) accounts.set(accountId, { id: accountId, name: opts.name ?? null, created: clock() })
    keys.set(key, { accountId, livemode: /^[a-z]+_live_/.test(key), allowedPaths: opts.allowedPaths })
    return { accountId }
  }

  const addCustomer = (accountId: string, fields: { readonly email?: string; readonly name?: string } = {}) =>
    data.createCustomer(accountId, { email: fields.email ?? null, name: fields.name ?? null })

  for (const [key, opts] of Object.entries(options.keys ?? {})) addKey(key, opts)

  const accountObject = (account: AccountEntry) => ({
    id: account.id,
    object: "account",
    business_profile: {
      mcc: null,
      name: account.name,
      product_description: null,
      support_email: null,
      support_phone: null,
      support_url: null,
      url: null
    },
    business_type: "company",
    capabilities: { card_payments: "active", transfers: "active" },
    charges_enabled: true,
    controller: { type: "account" },
    country: "US",
    created: account.created,
    default_currency: "usd",
    details_submitted: true,
    email: null,
    metadata: {},
    payouts_enabled: true,
    settings: {
      dashboard: { display_name: account.name, timezone: "Etc/UTC" },
      payments: { statement_descriptor: account.name?.toUpperCase().slice(0, 22) ?? null }
    },
    type: "standard"
  })

  const listPage = (path: string, all: ReadonlyArray<Record<string, unknown>>, query: URLSearchParams): Reply => {
    const rawLimit = query.get("limit")
    const limit = rawLimit === null ? 10 : Number(rawLimit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return invalidRequest(`Invalid limit: must be an integer between 1 and 100, got ${JSON.stringify(rawLimit)}.`, {
        param: "limit"
      })
    }
    const after = query.get("starting_after")
    const before = query.get("ending_before")
    let page: ReadonlyArray<Record<string, unknown>>
    let hasMore: boolean
    if (before) {
      const index = all.findIndex((o) => o.id === before)
      if (index < 0) return noSuch("object", before)
      const start = Math.max(0, index - limit)
      page = all.slice(start, index)
      hasMore = start > 0
    } else {
      const index = after ? all.findIndex((o) => o.id === after) : -1
      if (after && index < 0) return noSuch("object", after)
      page = all.slice(index + 1, index + 1 + limit)
      hasMore = index + 1 + limit < all.length
    }
    return { status: 200, body: { object: "list", data: page, has_more: hasMore, url: path } }
  }

  const route = (
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    key: KeyEntry
  ): Reply | undefined => {
    const account = accounts.get(key.accountId)!
    if (method === "GET" && path === "/v1/account") return { status: 200, body: accountObject(account) }
    if (method === "GET" && path === "/v1/balance") {
      const zero = [{ amount: 0, currency: "usd", source_types: { card: 0 } }]
      return { status: 200, body: { object: "balance", available: zero, livemode: key.livemode, pending: zero } }
    }
    const endpointObject = (
      e: FakeStripeWebhookEndpoint & { readonly livemode: boolean; readonly created: number }
    ) => ({
      id: e.id,
      object: "webhook_endpoint",
      api_version: null,
      application: null,
      created: e.created,
      description: null,
      enabled_events: e.enabledEvents,
      livemode: e.livemode,
      metadata: {},
      status: "enabled",
      url: e.url
    })
    if (path === "/v1/webhook_endpoints" && method === "POST") {
      if (typeof body.url !== "string" || body.url === "") return missingParam("url")
      const events = stringList(body.enabled_events)
      if (!events || events.length === 0) return missingParam("enabled_events")
      try {
        new URL(body.url)
      } catch {
        return invalidRequest(`Invalid URL: ${body.url}`, { param: "url" })
      }
      const endpoint = {
        id: stripeId("we", 24),
        accountId: account.id,
        url: body.url,
        enabledEvents: events,
        secret: `whsec_${randomBytes(24).toString("hex")}`,
        livemode: key.livemode,
        created: clock()
      }
      endpoints.set(endpoint.id, endpoint)
      // The signing secret is shown only in the create response.
      return { status: 200, body: { ...endpointObject(endpoint), secret: endpoint.secret } }
    }
    if (path === "/v1/webhook_endpoints" && method === "GET") {
      const mine = [...endpoints.values()].filter((e) => e.accountId === account.id).reverse()
      return listPage(path, mine.map(endpointObject), query)
    }
    const endpointId = /^\/v1\/webhook_endpoints\/([^/]+)$/.exec(path)?.[1]
    if (endpointId) {
      const endpoint = endpoints.get(endpointId)
      if (!endpoint || endpoint.accountId !== account.id) return noSuch("webhook endpoint", endpointId)
      if (method === "GET") return { status: 200, body: endpointObject(endpoint) }
      if (method === "DELETE") {
        endpoints.delete(endpointId)
        return { status: 200, body: { id: endpointId, object: "webhook_endpoint", deleted: true } }
      }
    }
    return undefined
  }

  const failureReply = (mode: FakeStripeFailure): Reply | undefined => {
    if (mode === "unavailable") {
      return stripeError(500, {
        type: "api_error",
        message: "An unknown error occurred. Please try again later or contact support."
      })
    }
    if (mode === "rate_limited") {
      return stripeError(429, {
        type: "invalid_request_error",
        code: "rate_limit",
        message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        doc_url: "https://stripe.com/docs/error-codes/rate-limit"
      })
    }
    return undefined
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET"
    const target = new URL(req.url ?? "/", "http://127.0.0.1")
    const text = await readBody(req)
    const contentType = req.headers["content-type"]
    const body = method === "POST" ? parseForm(text) : {}
    const idempotencyKey = req.headers["idempotency-key"] as string | undefined
    log.push({
      method,
      path: target.pathname,
      query: target.search,
      stripeVersion: req.headers["stripe-version"] as string | undefined,
      idempotencyKey,
      contentType,
      body
    })
    const send = (reply: Reply, extraHeaders: Record<string, string> = {}) => {
      res.writeHead(reply.status, {
        "content-type": "application/json",
        "request-id": stripeId("req", 14),
        "stripe-version": (req.headers["stripe-version"] as string | undefined) ?? "2026-10-28.endive",
        date: new Date(clock() * 1000).toUTCString(),
        ...extraHeaders
      })
      res.end(JSON.stringify(reply.body))
    }

    if (failure) {
      const current = failure
      if (current.mode === "slow") {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            pendingTimers.delete(timer)
            resolve()
          }, current.delayMs)
          pendingTimers.add(timer)
        })
        if (res.destroyed) return
      } else {
        return send(failureReply(current.mode)!)
      }
    }

    const authorization = req.headers.authorization
    const bearer = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length).trim() : undefined
    if (!bearer) {
      return send(
        stripeError(401, {
          type: "invalid_request_error",
          message:
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
        })
      )
    }
    const key = keys.get(bearer)
    if (!key) {
      return send(
        stripeError(401, { type: "invalid_request_error", message: `Invalid API Key provided: ${maskKey(bearer)}` })
      )
    }
    if (key.expired) {
      return send(
        stripeError(401, {
          type: "invalid_request_error",
          code: "api_key_expired",
          message: `Expired API Key provided: ${maskKey(bearer)}`,
          doc_url: "https://stripe.com/docs/error-codes/api-key-expired"
        })
      )
    }
    if (key.allowedPaths && !key.allowedPaths.includes(target.pathname)) {
      return send(
        stripeError(403, {
          type: "invalid_request_error",
          message: `The provided key '${maskKey(bearer)}' does not have the required permissions for this endpoint on account '${key.accountId}'. Having the 'rak_${target.pathname.split("/")[2] ?? "resource"}_read' permission would allow this request to continue.`
        })
      )
    }

    const dataReply = await data.handle(key.accountId, method, target, { body, idempotencyKey })
    if (dataReply) return send(dataReply, dataReply.headers)

    const reply = data.idempotently(
      key.accountId,
      method,
      target.pathname,
      body,
      idempotencyKey,
      () =>
        route(method, target.pathname, target.searchParams, body, key) ??
        stripeError(404, {
          type: "invalid_request_error",
          message: `Unrecognized request URL (${method}: ${target.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`
        })
    )
    send(reply, reply.headers)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }))
    })
  })

  const { url, port, close } = await listen(server, options.port)
  return {
    url,
    port,
    close: () => {
      for (const timer of pendingTimers) clearTimeout(timer)
      pendingTimers.clear()
      return close()
    },
    addKey,
    revokeKey: (key) => {
      keys.delete(key)
    },
    setFailure: (mode, opts = {}) => {
      failure = mode === null ? null : { mode, delayMs: opts.delayMs ?? 5_000 }
    },
    requests: (path) => (path === undefined ? log.length : log.filter((r) => r.path === path).length),
    requestLog: () => [...log],
    addCustomer,
    webhookEndpoints: (accountId) =>
      [...endpoints.values()]
        .filter((e) => accountId === undefined || e.accountId === accountId)
        .map(({ id, accountId, url, enabledEvents, secret }) => ({ id, accountId, url, enabledEvents, secret })),
    expireKey: (key) => {
      const entry = keys.get(key)
      if (entry) entry.expired = true
    },
    advanceClock: (seconds) => {
      clockOffset += seconds
    },
    ...data.controls
  }
}
