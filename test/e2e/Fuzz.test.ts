import { request as httpRequest } from "node:http"
import { assert, layer } from "@effect/vitest"
import { Context, Effect } from "effect"
import { HttpApi } from "effect/http-api"
import fc from "fast-check"
import { SignJWT } from "jose"
import { Api } from "../../adapters/http/Api.ts"
import { RoleRequirement } from "../../adapters/http/Authorization.ts"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { serverPort } from "../support/RawHttp.ts"
import { call, jwtSecret, TestWorld, testAppWith } from "../support/TestApp.ts"

/*
 * Every route of the service, hit with bad tokens, bad bodies and bad path and query values. Routes come from the
 * OpenAPI document the service serves (so a new endpoint is fuzzed without touching this file), plus the raw
 * webhook routes and the documents themselves. The properties: nothing answers 5xx, no bad token gets past 401,
 * and no role below an endpoint's requirement gets past 403.
 */

const tenant = "aaaaaaaa-0000-4000-8000-0000000000f9"
const otherTenant = "bbbbbbbb-0000-4000-8000-0000000000f9"
const venue = "aaaaaaaa-1111-4000-8000-0000000000f9"
const stripeKey = "sk_test_fuzz0123456789abcdef"
const providers = ["stripe", "square", "mailchimp", "quickbooks"] as const
// FUZZ_RUNS_PER_ROUTE runs a longer hunt locally; CI keeps the bounded default.
const runsPerRoute = Number(process.env.FUZZ_RUNS_PER_ROUTE ?? 16)

type TokenKind = (typeof validKinds)[number] | (typeof badKinds)[number]
const validKinds = ["admin", "venueAdmin", "viewer", "otherTenantAdmin"] as const
const badKinds = [
  "none",
  "empty",
  "garbage",
  "notBearer",
  "wrongSecret",
  "algNone",
  "expired",
  "noExp",
  "tooLong",
  "badTenant",
  "badRole"
] as const
const roleOf: Record<(typeof validKinds)[number], string> = {
  admin: "admin",
  venueAdmin: "venue_admin",
  viewer: "viewer",
  otherTenantAdmin: "admin"
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

const makeTokens = async (): Promise<Record<TokenKind, string | undefined>> => {
  const secret = new TextEncoder().encode(jwtSecret)
  const now = Math.floor(Date.now() / 1000)
  const sign = (claims: Record<string, unknown>, key = secret) =>
    new SignJWT({ tenant_id: tenant, venue_ids: [venue], role: "admin", iat: now, exp: now + 3600, ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("fuzz-user")
      .sign(key)
  return {
    admin: await sign({ venue_ids: [] }),
    venueAdmin: await sign({ role: "venue_admin" }),
    viewer: await sign({ role: "viewer" }),
    otherTenantAdmin: await sign({ tenant_id: otherTenant, venue_ids: [] }),
    none: undefined,
    empty: "",
    garbage: "not.a.jwt",
    notBearer: "basic",
    wrongSecret: await sign({}, new TextEncoder().encode("another-secret-entirely-0123456789")),
    algNone: `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "x", tenant_id: tenant, venue_ids: [], role: "admin", exp: now + 60 })}.`,
    expired: await sign({ iat: now - 7200, exp: now - 60 }),
    noExp: await sign({ exp: undefined }),
    tooLong: await sign({ exp: now + 30 * 24 * 3600 }),
    badTenant: await sign({ tenant_id: "not-a-uuid" }),
    badRole: await sign({ role: "root" })
  }
}

interface Route {
  readonly method: string
  readonly path: string
  readonly kind: "api" | "webhook" | "document"
  readonly secured: boolean
  readonly role: "any" | "manage" | "admin"
  readonly pathParams: ReadonlyArray<string>
  readonly query: ReadonlyArray<{ readonly name: string; readonly enum?: ReadonlyArray<string> }>
  /** The JSON Schema of the request body. */
  readonly body?: object
}

const roles = new Map<string, "any" | "manage" | "admin">()
HttpApi.reflect(Api, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, mergedAnnotations }) =>
    roles.set(`${endpoint.method} ${endpoint.path}`, Context.get(mergedAnnotations, RoleRequirement))
})

const routesOf = (spec: any): Array<Route> => {
  const routes: Array<Route> = []
  for (const [path, operations] of Object.entries<any>(spec.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      const parameters: Array<any> = operation.parameters ?? []
      const routerPath = path.replace(/\{(\w+)\}/g, ":$1")
      const secured = (operation.security ?? []).length > 0
      const json = operation.requestBody?.content?.["application/json"]?.schema
      routes.push({
        method: method.toUpperCase(),
        path,
        kind: method === "post" && !secured && path.startsWith(`${webhookPath}/`) ? "webhook" : "api",
        secured,
        role: roles.get(`${method.toUpperCase()} ${routerPath}`) ?? "any",
        pathParams: parameters.filter((p) => p.in === "path").map((p) => p.name),
        query: parameters
          .filter((p) => p.in === "query")
          .map((p) => ({ name: p.name, ...(p.schema?.enum ? { enum: p.schema.enum } : {}) })),
        ...(json === undefined ? {} : { body: json })
      })
    }
  }
  const plain = { secured: false, role: "any" as const, query: [] }
  return [
    ...routes,
    { ...plain, method: "POST", path: `${webhookPath}/{provider}`, kind: "webhook", pathParams: ["provider"] },
    { ...plain, method: "GET", path: `${webhookPath}/mailchimp`, kind: "webhook", pathParams: [] },
    { ...plain, method: "GET", path: "/openapi.json", kind: "document", pathParams: [] },
    { ...plain, method: "GET", path: "/docs", kind: "document", pathParams: [] }
  ]
}

/** Percent-encodes every code point as UTF-8 bytes (lone surrogates as the 3 bytes WTF-8 gives them). */
const percentEncode = (value: string) => {
  let out = ""
  for (const char of value) {
    const cp = char.codePointAt(0)!
    const bytes =
      cp < 0x80
        ? [cp]
        : cp < 0x800
          ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
          : cp < 0x10000
            ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
            : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
    out += bytes.length === 1 && /[A-Za-z0-9_.~-]/.test(char) ? char : bytes.map((b) => `%${b.toString(16)}`).join("")
  }
  return out
}

/** Strings an attacker would try: NUL, lone surrogates, long, path tricks, numbers, injections, noise. */
const hostileShort: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfffy",
    "\udc00\ud800",
    "",
    " ",
    "..",
    "../../etc/passwd",
    "%",
    "%zz",
    "💥",
    "ü",
    "null",
    "0",
    "-1",
    "1e309",
    "NaN",
    "' OR 1=1 --",
    "\\",
    '"',
    "<script>",
    "\r\n",
    `we_${"0".repeat(32)}`,
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff"
  ),
  fc.string({ maxLength: 40, unit: "binary" }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => `id${String.fromCharCode(unit)}`),
  // Long, yet within the 16 KB Node allows for a request head.
  fc.integer({ min: 300, max: 3_000 }).map((n) => "x".repeat(n))
)

/** In a body, strings may be oversized too. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: hostileShort },
  { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 200_000 }).map((n) => "x".repeat(n)) }
)

const uuid = fc.uuid()

/** Values the JSON Schema of the OpenAPI document accepts (`$ref`s into its components), with our own ids. */
const fromSchema = (schema: any, components: Record<string, any>, name = "", depth = 0): fc.Arbitrary<unknown> => {
  if (schema?.$ref) return fromSchema(components[schema.$ref.split("/").pop()], components, name, depth)
  const options = schema?.anyOf ?? schema?.oneOf
  if (options) return fc.oneof(...options.map((o: any) => fromSchema(o, components, name, depth)))
  if (schema?.enum) return fc.constantFrom(...schema.enum)
  if (name === "venueId") return fc.oneof(fc.constant(venue), uuid)
  if (name === "apiKey") return fc.constantFrom(stripeKey, "sk_test_unknownkey000000")
  switch (schema?.type) {
    case "object": {
      const properties: Record<string, any> = depth > 3 ? {} : (schema.properties ?? {})
      return fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([key, value]) => [key, fromSchema(value, components, key, depth + 1)])
        ),
        { requiredKeys: (schema.required ?? []).filter((key: string) => key in properties) }
      )
    }
    case "array":
      return fc.array(fromSchema(schema.items, components, name, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3)
      })
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1000, 1000) })
    case "number":
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case "boolean":
      return fc.boolean()
    case "null":
      return fc.constant(null)
    case "string":
      if (schema.format === "uuid") return uuid
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern))
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 20, 20) })
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** Every place in a JSON value where another value can go: object properties and array elements, at any depth. */
const placesIn = (value: unknown, path: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...path, i], ...placesIn(v, [...path, i])])
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [[...path, k], ...placesIn(v, [...path, k])])
  }
  return []
}

const replaceAt = (value: any, path: ReadonlyArray<string | number>, replacement: unknown): unknown => {
  if (path.length === 0) return replacement
  const [head, ...rest] = path
  const copy = Array.isArray(value) ? [...value] : { ...value }
  copy[head as any] = replaceAt(value[head as any], rest, replacement)
  return copy
}

const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.double()
)

const invalidJson = fc.constantFrom(
  "",
  "{",
  "}",
  "null",
  "[]",
  '"text"',
  "42",
  '{"venueId": }',
  '{"venueId": "\\u0000"}',
  '{"venueId": "\\ud800"}',
  "\u0000",
  `${"[".repeat(20_000)}${"]".repeat(20_000)}`,
  `{"a":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}}`,
  '{"__proto__": {"role": "admin"}, "venueId": "x"}'
)

/**
 * A JSON body for the route's schema: well formed, one value anywhere in it broken (hostile string or wrong type), an
 * extra field, any JSON, not JSON, or past 1 MiB.
 */
const bodyFor = (route: Route, components: Record<string, any>): fc.Arbitrary<string | undefined> => {
  if (route.body === undefined) return fc.oneof(fc.constant(undefined), invalidJson)
  const valid = fromSchema(route.body, components) as fc.Arbitrary<Record<string, unknown>>
  return fc.oneof(
    { weight: 3, arbitrary: valid.map((v) => JSON.stringify(v)) },
    {
      weight: 5,
      arbitrary: fc.tuple(valid, fc.nat(), fc.oneof(hostile, wrongType)).map(([v, at, bad]) => {
        const places = placesIn(v)
        return JSON.stringify(places.length === 0 ? bad : replaceAt(v, places[at % places.length]!, bad))
      })
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue())
        .map(([v, k, extra]) => JSON.stringify({ ...v, [k]: extra }))
    },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: invalidJson },
    { weight: 1, arbitrary: valid.map((v) => JSON.stringify({ ...v, pad: "x".repeat(1_200_000) })) }
  )
}

const contentType = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  undefined
)

const webhookHeaders = fc.record(
  {
    "stripe-signature": fc.oneof(
      hostile.map(percentEncode),
      fc
        .tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.stringMatching(/^[0-9a-f]{0,64}$/))
        .map(([t, v]) => `t=${t},v1=${v}`)
    ),
    "x-square-hmacsha256-signature": fc.base64String({ maxLength: 60 }),
    "intuit-signature": fc.base64String({ maxLength: 60 })
  },
  { requiredKeys: [] }
)

interface Case {
  readonly route: Route
  readonly token: TokenKind
  readonly path: string
  readonly contentType: string | undefined
  readonly body: string | undefined
  readonly headers: Record<string, string>
}

const caseFor = (route: Route, components: Record<string, any>): fc.Arbitrary<Case> => {
  // Never empty, "." or "..": those change which route the path names, and the role expected with it.
  const hostileSegment = hostileShort.filter((value) => !["", ".", ".."].includes(value))
  const segment = (name: string) =>
    name === "provider"
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...providers) }, { weight: 2, arbitrary: hostileSegment })
      : hostileSegment
  const pathArb = fc
    .tuple(...route.pathParams.map((name) => segment(name).map(percentEncode)))
    .map((values) => route.pathParams.reduce((path, name, i) => path.replace(`{${name}}`, values[i]!), route.path))
  const queryNames = [...route.query.map((q) => q.name), ...(route.kind === "webhook" ? ["endpoint", "secret"] : [])]
  const queryArb = fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...(queryNames.length > 0 ? queryNames : ["x"])) },
          hostileShort
        ),
        fc.oneof(hostileShort, uuid, fc.constantFrom(...providers, "received", "failed", "50", "0", "501"))
      ),
      { maxLength: 4 }
    )
    .map((pairs) => pairs.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join("&"))
  return fc.record({
    route: fc.constant(route),
    // Mostly tokens that get a request past authentication, to reach the handlers with the rest of the case.
    token: fc.oneof(
      { weight: 4, arbitrary: fc.constant("admin" as const) },
      { weight: 2, arbitrary: fc.constantFrom(...validKinds) },
      { weight: 3, arbitrary: fc.constantFrom(...badKinds) }
    ),
    path: fc.tuple(pathArb, queryArb).map(([path, query]) => (query === "" ? path : `${path}?${query}`)),
    contentType,
    body: route.method === "GET" ? fc.constant(undefined) : bodyFor(route, components),
    headers: route.kind === "webhook" ? webhookHeaders : fc.constant({})
  })
}

interface Answer {
  readonly status: number
  readonly text: string
}

const send = (port: number, c: Case, token: string | undefined) =>
  new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = { ...c.headers }
    if (c.contentType !== undefined) headers["content-type"] = c.contentType
    if (token !== undefined) headers.authorization = c.token === "notBearer" ? `Basic ${token}` : `Bearer ${token}`
    let status: number | undefined
    const chunks: Array<Buffer> = []
    const answered = () => resolve({ status: status!, text: Buffer.concat(chunks).toString("utf8") })
    const req = httpRequest(
      { host: "127.0.0.1", port, method: c.route.method, path: c.path, headers, agent: false },
      (res) => {
        status = res.statusCode ?? 0
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", answered)
      }
    )
    // A server that answers and closes before the whole request is written (413, or Node's own 431 for a head
    // past 16 KB) resets the socket under the client: the answer counts.
    req.on("error", (error) => (status === undefined ? reject(error) : answered()))
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${c.route.method} ${c.path}`)))
    req.end(c.body)
  })

const isBad = (token: TokenKind) => (badKinds as ReadonlyArray<string>).includes(token)
const meets = (token: TokenKind, role: Route["role"]) => {
  const granted = roleOf[token as (typeof validKinds)[number]]
  return role === "any" || granted === "admin" || (role === "manage" && granted === "venue_admin")
}

// The tenant's rate limit is RateLimit.test.ts's subject; here it would only cut a long hunt short.
const App = testAppWith(Effect.succeed({ API_RATE_LIMIT: "1000000" }))

layer(App, { timeout: "120 seconds", excludeTestServices: true })("fuzz", (it) => {
  it.effect(
    "every route: no 5xx, no bad token past 401, no role below the endpoint's past 403",
    () =>
      Effect.gen(function* () {
        const port = yield* serverPort
        const { stripe } = yield* TestWorld
        stripe.addKey(stripeKey)
        const tokens = yield* Effect.promise(makeTokens)
        // Something to find: a Stripe connection of the venue, and an OAuth flow in progress.
        const admin = { tenantId: tenant, venueIds: [], role: "admin" }
        const connected = yield* call("POST", "/api/v1/integrations/connect/stripe", {
          caller: admin,
          body: { venueId: venue, apiKey: stripeKey }
        })
        assert.strictEqual(connected.status, 201)
        const spec = (yield* call("GET", "/openapi.json")).body
        const routes = routesOf(spec)
        assert.isAtLeast(routes.length, 19, "every endpoint of the API, the webhook routes and the documents")

        const failures: Array<string> = []
        for (const route of routes) {
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(caseFor(route, spec.components?.schemas ?? {}), async (c) => {
                const request = `${c.route.method} ${c.path.slice(0, 200)} token=${c.token} content-type=${c.contentType} body=${(c.body ?? "").slice(0, 200)}`
                const answer = await send(port, c, tokens[c.token]).catch((error: Error) => error)
                if (answer instanceof Error) return void failures.push(`no answer (${answer.message}): ${request}`)
                const what = `${request} → ${answer.status} ${answer.text.slice(0, 300)}`
                if (answer.status >= 500) return void failures.push(what)
                // A path that matches no route is refused before any route's middleware runs; so is one the HTTP layer
                // cannot decode into path parameters (an empty 400: every answer of ours has a JSON body).
                if (answer.status === 404 && answer.text.includes('"RouteNotFound"')) return
                if (answer.status === 400 && answer.text === "") return
                if (route.secured && isBad(c.token)) {
                  if (answer.status !== 401) failures.push(`bad token not refused: ${what}`)
                  return
                }
                if (route.secured && !meets(c.token, route.role) && answer.status !== 403) {
                  failures.push(`role below ${route.role} not refused: ${what}`)
                }
                if (route.kind === "webhook" && route.method === "POST" && answer.status < 400) {
                  failures.push(`an unsigned delivery accepted: ${what}`)
                }
              }),
              { numRuns: runsPerRoute, endOnFailure: true }
            )
          )
        }
        assert.deepStrictEqual(failures, [])
      }),
    { timeout: 120_000 }
  )
})
