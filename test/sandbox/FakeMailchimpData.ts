import { hash, randomBytes } from "node:crypto"
import { json, type Reply } from "./FakeHttp.ts"
import { mailchimpProblems, type Problem } from "./FakeMailchimpProblems.ts"

/**
 * The members of each audience (`GET /3.0/lists/{id}/members`) on the Marketing API's wire (PROVIDERS.md §1c, §1d,
 * §8; shape of test/fixtures/sync/mailchimp/list_members_page.json): `count` (default 10, at most 1000) and `offset`,
 * `total_items` after the filters, `status`, `since_last_changed`/`before_last_changed` (strictly after/before),
 * `sort_field` (`last_changed`, `timestamp_opt`, `timestamp_signup`) and `sort_dir`; without a sort, members come in
 * the order they were added, which an update does not change. Archiving keeps a member in the list with
 * `status: "archived"` and a new `last_changed`; a permanent delete removes it.
 *
 * Members are kept per account (the login a token belongs to) and audience. Every `/3.0/lists…` and `/3.0/batches…`
 * request of an account goes through `admit` first: it is logged, limited to 10 in flight (Mailchimp's connection
 * limit, 429 above it), to the account's optional request rate, and meets injected failures.
 *
 * Writes (`…/members/{subscriber_hash}`; the path also takes the address itself, as Mailchimp's does): `PUT` upserts
 * the member the address names — a new one (or an archived one coming back) takes `status` or else `status_if_new`,
 * an existing one keeps its status unless `status` is sent, so replaying a PUT adds nobody; `PATCH` changes a known
 * member (a new `email_address` re-keys the same member, 400 Member Exists when the address is another member's);
 * `DELETE` archives (204); `GET` reads one, archived or not. Refusals are Mailchimp's 400 problem documents: Invalid
 * Resource (a missing, malformed or fake-looking address, a bad status), Member In Compliance State (an address put
 * in that state by `setComplianceState`, subscribed again), Forgotten Email Not Subscribed (an address deleted for
 * good, added again). `creations` counts the members writes added: what proves a replay duplicated nothing.
 */
export interface FakeMember {
  readonly id: string
  readonly email_address: string
  readonly unique_email_id: string
  readonly email_type: "html" | "text"
  readonly status: "subscribed" | "unsubscribed" | "cleaned" | "pending" | "transactional" | "archived"
  readonly status_if_new: string
  readonly merge_fields: Readonly<Record<string, unknown>>
  readonly interests: Readonly<Record<string, boolean>>
  readonly stats: { readonly avg_open_rate: number; readonly avg_click_rate: number }
  readonly ip_signup: string
  readonly timestamp_signup: string
  readonly ip_opt: string
  readonly timestamp_opt: string
  readonly member_rating: number
  readonly last_changed: string
  readonly language: string
  readonly vip: boolean
  readonly email_client: string
  readonly location: Readonly<Record<string, unknown>>
  readonly tags_count: number
  readonly tags: ReadonlyArray<{ readonly id: number; readonly name: string }>
  readonly list_id: string
}

/** What a test changes on a member; `email_address` names it (its id is the MD5 of the lower-case address). */
export type FakeMemberChange = Partial<Omit<FakeMember, "id" | "list_id" | "last_changed">> & {
  readonly email_address: string
}

export interface FakeMailchimpInjection {
  /** 401 answers Mailchimp's "API Key Invalid" document; 429, 5xx, 403, 404… their own problem documents. */
  readonly status: number
  readonly retryAfterSeconds?: number
  /** How many requests fail; absent: until `clearInjections()`. */
  readonly times?: number
  /** Only this account's requests; absent: every account's. */
  readonly accountId?: string
}

export interface FakeDataRequest {
  readonly at: number
  /** Path and query, e.g. `/3.0/lists/5b3a7e9c21/members?count=1000&offset=0`. */
  readonly path: string
}

type MemberBody = Omit<FakeMember, "last_changed">

/** One seed's common part: its members differ by their index in it. */
interface SeedBatch {
  readonly listId: string
  readonly salt: string
  /** 10 random hex digits per member, its `unique_email_id`. */
  readonly random: string
}

interface Stored {
  readonly id: string
  /** Seconds since the epoch: Mailchimp's timestamps have no finer grain. */
  readonly lastChanged: number
  readonly status: FakeMember["status"]
  /** A seeded member is kept as its batch and index and built when read, so 100,000 of them seed at once. */
  readonly body: MemberBody | { readonly batch: SeedBatch; readonly i: number }
}

interface Audience {
  /** In add order (a re-addressed member keeps its place). */
  readonly byId: Map<string, Stored>
  /** The add order, rebuilt after a change; updates keep a member's place. */
  ordered: Array<Stored> | undefined
}

/** Mailchimp's concurrent connections per API key (PROVIDERS.md §1d). */
const connectionLimit = 10
const maxCount = 1000

const titles: Record<number, string> = {
  400: "Invalid Resource",
  401: "API Key Invalid",
  403: "Forbidden",
  404: "Resource Not Found",
  405: "Method Not Allowed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const details: Record<number, string> = {
  401: "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
  403: "You don't have permission to access this resource.",
  404: "The requested resource could not be found.",
  429: "You have exceeded the limit of 10 simultaneous connections."
}

/** `2026-01-15T10:00:00+00:00`, as the Marketing API writes instants. */
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00")

export const subscriberHash = (email: string) => hash("md5", email.toLowerCase())

const firstNames = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald"]
const lastNames = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Perlman"]
const statuses: ReadonlyArray<FakeMember["status"]> = [
  "subscribed",
  "subscribed",
  "subscribed",
  "subscribed",
  "subscribed",
  "subscribed",
  "unsubscribed",
  "cleaned",
  "pending",
  "transactional"
]
const cities = [
  { city: "Springfield", state: "IL", zip: "62701", country_code: "US", timezone: "America/Chicago", gmtoff: -6 },
  { city: "Leeds", state: "", zip: "LS1 1UR", country_code: "GB", timezone: "Europe/London", gmtoff: 0 },
  { city: "Lyon", state: "", zip: "69001", country_code: "FR", timezone: "Europe/Paris", gmtoff: 1 }
]

const links = (listId: string, id: string) => {
  const base = `https://us19.api.mailchimp.com/3.0/lists/${listId}/members`
  const schema = "https://api.mailchimp.com/schema/3.0/Lists/Members"
  return [
    { rel: "self", href: `${base}/${id}`, method: "GET", targetSchema: `${schema}/Instance.json` },
    {
      rel: "parent",
      href: base,
      method: "GET",
      targetSchema: `${schema}/Collection.json`,
      schema: "https://api.mailchimp.com/schema/3.0/CollectionLinks/Lists/Members.json"
    },
    { rel: "update", href: `${base}/${id}`, method: "PATCH", schema: `${schema}/Instance.json` },
    { rel: "upsert", href: `${base}/${id}`, method: "PUT", schema: `${schema}/Instance.json` },
    { rel: "delete", href: `${base}/${id}`, method: "DELETE" },
    {
      rel: "activity",
      href: `${base}/${id}/activity`,
      method: "GET",
      targetSchema: `${schema}/Activity/Collection.json`
    },
    { rel: "goals", href: `${base}/${id}/goals`, method: "GET", targetSchema: `${schema}/Goals/Collection.json` },
    { rel: "notes", href: `${base}/${id}/notes`, method: "GET", targetSchema: `${schema}/Notes/Collection.json` }
  ]
}

const firstOf = (i: number) => firstNames[i % firstNames.length]!
const lastOf = (i: number) => lastNames[Math.floor(i / firstNames.length) % lastNames.length]!
const emailOf = (i: number, salt: string) => `${firstOf(i)}.${lastOf(i)}.${salt}${i}@example.test`.toLowerCase()
const statusOf = (i: number) => statuses[i % statuses.length]!

/** A realistic member; `i` makes the address unique within a seed, `uniqueEmailId` is 10 random hex digits. */
const generated = (listId: string, i: number, lastChanged: number, salt: string, uniqueEmailId: string): MemberBody => {
  const first = firstOf(i)
  const last = lastOf(i)
  const email = emailOf(i, salt)
  const place = cities[i % cities.length]!
  const signedUp = i % 3 === 0 ? "" : instant(lastChanged - 86_400 * (1 + (i % 90)))
  return {
    id: subscriberHash(email),
    email_address: email,
    unique_email_id: uniqueEmailId,
    email_type: "html",
    status: statusOf(i),
    status_if_new: "",
    merge_fields: {
      FNAME: first,
      LNAME: last,
      ADDRESS:
        i % 4 === 0
          ? {
              addr1: `${i} Stage Door`,
              addr2: "",
              city: place.city,
              state: place.state,
              zip: place.zip,
              country: place.country_code
            }
          : "",
      PHONE: i % 5 === 0 ? `+1217555${String(i % 10_000).padStart(4, "0")}` : "",
      BIRTHDAY: i % 7 === 0 ? `${String((i % 12) + 1).padStart(2, "0")}/${String((i % 28) + 1).padStart(2, "0")}` : ""
    },
    interests: {},
    stats: { avg_open_rate: (i % 10) / 10, avg_click_rate: (i % 4) / 10 },
    ip_signup: signedUp === "" ? "" : `198.51.100.${i % 250}`,
    timestamp_signup: signedUp,
    ip_opt: `203.0.113.${i % 250}`,
    timestamp_opt: instant(lastChanged - 3600),
    member_rating: (i % 5) + 1,
    language: i % 6 === 0 ? "fr" : "en",
    vip: i % 50 === 0,
    email_client: "",
    location: {
      latitude: 0,
      longitude: 0,
      gmtoff: place.gmtoff,
      dstoff: place.gmtoff,
      country_code: place.country_code,
      timezone: place.timezone,
      region: place.state
    },
    tags_count: i % 8 === 0 ? 1 : 0,
    tags: i % 8 === 0 ? [{ id: 101, name: "Season ticket" }] : [],
    list_id: listId
  }
}

const bodyOf = (s: Stored): MemberBody => {
  if (!("batch" in s.body)) return s.body
  const { batch, i } = s.body
  return generated(batch.listId, i, s.lastChanged, batch.salt, batch.random.slice(i * 10, i * 10 + 10))
}
/** A member a write adds: the audience's five default merge fields empty, no activity yet. */
const added = (listId: string, email: string, seconds: number): MemberBody => ({
  id: subscriberHash(email),
  email_address: email,
  unique_email_id: randomBytes(5).toString("hex"),
  email_type: "html",
  status: "subscribed",
  status_if_new: "",
  merge_fields: { FNAME: "", LNAME: "", ADDRESS: "", PHONE: "", BIRTHDAY: "" },
  interests: {},
  stats: { avg_open_rate: 0, avg_click_rate: 0 },
  ip_signup: "",
  timestamp_signup: "",
  ip_opt: "",
  timestamp_opt: instant(seconds),
  member_rating: 2,
  language: "",
  vip: false,
  email_client: "",
  location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: "", timezone: "", region: "" },
  tags_count: 0,
  tags: [],
  list_id: listId
})

const memberStatuses: ReadonlyArray<string> = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
/** Addresses Mailchimp refuses as fake-looking (its check is broader; these are the ones tests use). */
const fakeLooking = /^(test|fake|asdf|noreply)@|@(example\.com|test\.com|mailinator\.com)$/i
const wellFormed = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

const memberOf = (s: Stored): FakeMember => ({ ...bodyOf(s), last_changed: instant(s.lastChanged) })
const wire = (s: Stored) => {
  const member = memberOf(s)
  return { ...member, _links: links(member.list_id, member.id) }
}
const storedOf = (body: MemberBody, lastChanged: number): Stored => ({
  id: body.id,
  lastChanged,
  status: body.status,
  body
})

/** `2015-10-21T15:41:36+00:00` (or any instant `Date` reads) as epoch seconds; undefined when absent or unreadable. */
const secondsParam = (value: string | null): number | "invalid" | undefined => {
  if (value === null || value === "") return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? "invalid" : ms / 1000
}

const sortKeys: Record<string, (s: Stored) => string | number> = {
  last_changed: (s) => s.lastChanged,
  timestamp_opt: (s) => bodyOf(s).timestamp_opt,
  timestamp_signup: (s) => bodyOf(s).timestamp_signup
}

export interface FakeMailchimpDataOptions {
  /** The fake's clock (ms). */
  readonly now: () => number
  /** The account's audiences; the first is the oldest (where seeds go by default). */
  readonly audiences: () => ReadonlyArray<string>
  readonly problem: Problem
}

/** The data part of the fake: `admit` runs before any `/3.0/lists…` answer, `respond` answers `…/members`. */
export const fakeMailchimpData = (options: FakeMailchimpDataOptions) => {
  const { now, problem } = options
  const { notFound, unvalidated, jsonParseError } = mailchimpProblems(problem)
  const audiences = new Map<string, Audience>()
  const requests = new Map<string, Array<FakeDataRequest>>()
  /** When each admitted request came, per account: what a rate limit counts. */
  const accepted = new Map<string, Array<number>>()
  const inFlight = new Map<string, number>()
  const peaks = new Map<string, number>()
  const rateLimits = new Map<string, { readonly limit: number; readonly windowMs: number }>()
  const admitted = new WeakMap<URL, string>()
  /** Members added by writes, per account. */
  const creations = new Map<string, number>()
  /** `account/list/hash` of addresses in a compliance state, and of members deleted for good. */
  const compliance = new Set<string>()
  const forgotten = new Set<string>()
  let injection: (FakeMailchimpInjection & { remaining: number }) | null = null
  let latencyMs = 0
  let seeds = 0
  /** Makes each seed's addresses its own, so seeding twice adds members rather than replacing them. */
  const nextSalt = (prefix: string) => {
    seeds += 1
    return `${prefix}${seeds}x`
  }

  const listOf = (listId: string | undefined) => {
    const id = listId ?? options.audiences()[0]
    if (id === undefined || !options.audiences().includes(id)) throw new Error(`no audience ${listId}`)
    return id
  }
  const audience = (accountId: string, listId: string) => {
    const key = `${accountId}/${listId}`
    let found = audiences.get(key)
    if (found === undefined) {
      found = { byId: new Map(), ordered: undefined }
      audiences.set(key, found)
    }
    return found
  }
  const ordered = (a: Audience) => {
    a.ordered ??= [...a.byId.values()]
    return a.ordered
  }
  const contactsOnly = (entityType: string) => {
    if (entityType !== "contact") throw new Error(`the Mailchimp fake holds contacts, not ${entityType}`)
  }
  const nowSeconds = () => Math.floor(now() / 1000)
  /** A member's new state where the old one was: same place in the add order. */
  const replace = (a: Audience, known: Stored | undefined, stored: Stored) => {
    if (known !== undefined && known.id !== stored.id) {
      const entries = [...a.byId]
      a.byId.clear()
      for (const [id, s] of entries) a.byId.set(id === known.id ? stored.id : id, id === known.id ? stored : s)
    } else a.byId.set(stored.id, stored)
    if (known === undefined) a.ordered = undefined
    else if (a.ordered !== undefined) a.ordered[a.ordered.indexOf(known)] = stored
  }

  const failWith = (status: number, retryAfterSeconds?: number): Reply => {
    const reply = problem(status, titles[status] ?? "Error", details[status] ?? "An unexpected error occurred.")
    return retryAfterSeconds === undefined
      ? reply
      : { ...reply, headers: { ...reply.headers, "retry-after": String(retryAfterSeconds) } }
  }

  const takeInjection = (accountId: string) => {
    if (injection === null || (injection.accountId !== undefined && injection.accountId !== accountId)) return null
    const taken = injection
    if (taken.times !== undefined) {
      taken.remaining -= 1
      if (taken.remaining <= 0) injection = null
    }
    return taken
  }

  /** Logs the request and applies the limits and injected failures; a reply here is the answer. */
  const admit = (accountId: string, url: URL): Reply | undefined => {
    const at = now()
    const log = requests.get(accountId) ?? []
    requests.set(accountId, log)
    log.push({ at, path: `${url.pathname}${url.search}` })
    const running = inFlight.get(accountId) ?? 0
    if (running >= connectionLimit) return failWith(429)
    const injected = takeInjection(accountId)
    if (injected !== null) return failWith(injected.status, injected.retryAfterSeconds)
    const rate = rateLimits.get(accountId)
    const times = accepted.get(accountId) ?? []
    accepted.set(accountId, times)
    if (rate !== undefined) {
      while (times.length > 0 && times[0]! <= at - rate.windowMs) times.shift()
      if (times.length >= rate.limit)
        return failWith(429, Math.max(1, Math.ceil((times[0]! + rate.windowMs - at) / 1000)))
    }
    times.push(at)
    inFlight.set(accountId, running + 1)
    peaks.set(accountId, Math.max(peaks.get(accountId) ?? 0, running + 1))
    admitted.set(url, accountId)
    return undefined
  }

  /** After an admitted request's answer is made and before it is sent: the added latency, then it leaves flight. */
  const settle = async (url: URL) => {
    const accountId = admitted.get(url)
    if (accountId === undefined) return
    admitted.delete(url)
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs))
    inFlight.set(accountId, (inFlight.get(accountId) ?? 1) - 1)
  }

  const invalid = (detail: string) => problem(400, "Invalid Resource", detail)

  const listMembers = (accountId: string, listId: string, search: URLSearchParams): Reply => {
    const count = search.has("count") ? Number(search.get("count")) : 10
    const offset = search.has("offset") ? Number(search.get("offset")) : 0
    if (!Number.isInteger(count) || count < 1 || count > maxCount)
      return invalid(`count: must be an integer from 1 to ${maxCount}`)
    if (!Number.isInteger(offset) || offset < 0) return invalid("offset: must be a non-negative integer")
    const since = secondsParam(search.get("since_last_changed"))
    const before = secondsParam(search.get("before_last_changed"))
    if (since === "invalid" || before === "invalid") return invalid("last_changed filters must be ISO 8601 instants")
    const status = search.get("status")
    const sortField = search.get("sort_field")
    const sortKey = sortField === null ? undefined : sortKeys[sortField]
    if (sortField !== null && sortKey === undefined) return invalid(`sort_field: ${sortField} is not a member sort`)
    let members = ordered(audience(accountId, listId))
    if (since !== undefined || before !== undefined || status !== null)
      members = members.filter(
        (s) =>
          (since === undefined || s.lastChanged > since) &&
          (before === undefined || s.lastChanged < before) &&
          (status === null || s.status === status)
      )
    if (sortKey !== undefined) {
      const direction = search.get("sort_dir") === "DESC" ? -1 : 1
      // Array.prototype.sort is stable: ties keep the add order.
      members = [...members].sort((a, b) => {
        const x = sortKey(a)
        const y = sortKey(b)
        return x < y ? -direction : x > y ? direction : 0
      })
    }
    const base = `https://us19.api.mailchimp.com/3.0/lists/${listId}`
    return json(200, {
      members: members.slice(offset, offset + count).map(wire),
      list_id: listId,
      total_items: members.length,
      _links: [
        {
          rel: "self",
          href: `${base}/members`,
          method: "GET",
          targetSchema: "https://api.mailchimp.com/schema/3.0/Lists/Members/Collection.json",
          schema: "https://api.mailchimp.com/schema/3.0/CollectionLinks/Lists/Members.json"
        },
        {
          rel: "parent",
          href: base,
          method: "GET",
          targetSchema: "https://api.mailchimp.com/schema/3.0/Lists/Instance.json"
        },
        {
          rel: "create",
          href: `${base}/members`,
          method: "POST",
          schema: "https://api.mailchimp.com/schema/3.0/Lists/Members/Instance.json"
        }
      ]
    })
  }

  /** A request body's JSON object, or undefined when it is none (Mailchimp's JSON Parse Error). */
  const jsonBody = (text: string): Record<string, unknown> | undefined => {
    try {
      const value: unknown = JSON.parse(text)
      if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
    } catch {}
    return undefined
  }

  /** Mailchimp's refusal of an address (missing, malformed, fake-looking); undefined when it takes it. */
  const addressRefusal = (email: unknown): Reply | undefined => {
    if (typeof email !== "string" || email.trim() === "")
      return unvalidated([{ field: "email_address", message: "This value should not be blank." }])
    if (!wellFormed.test(email)) return invalid("Please provide a valid email address.")
    if (fakeLooking.test(email)) return invalid(`${email} looks fake or invalid, please enter a real email address.`)
    return undefined
  }

  const statusRefusal = (body: Record<string, unknown>): Reply | undefined => {
    for (const field of ["status", "status_if_new"]) {
      const value = body[field]
      if (value !== undefined && (typeof value !== "string" || !memberStatuses.includes(value)))
        return unvalidated([
          { field, message: `Value must be one of: ${memberStatuses.join(", ")} (not ${JSON.stringify(value)})` }
        ])
    }
    return undefined
  }

  /** What a PUT or PATCH body changes on a member (merge fields and interests merged, the rest replaced). */
  const applied = (base: MemberBody, body: Record<string, unknown>): MemberBody => {
    const merge = typeof body.merge_fields === "object" && body.merge_fields !== null ? body.merge_fields : {}
    const interests = typeof body.interests === "object" && body.interests !== null ? body.interests : {}
    return {
      ...base,
      ...(typeof body.email_address === "string" ? { email_address: body.email_address } : {}),
      ...(body.email_type === "html" || body.email_type === "text" ? { email_type: body.email_type } : {}),
      ...(typeof body.language === "string" ? { language: body.language } : {}),
      ...(typeof body.vip === "boolean" ? { vip: body.vip } : {}),
      merge_fields: { ...base.merge_fields, ...merge },
      interests: { ...base.interests, ...(interests as Record<string, boolean>) }
    }
  }

  const putMember = (accountId: string, listId: string, hash: string, body: Record<string, unknown>): Reply => {
    const refused = addressRefusal(body.email_address) ?? statusRefusal(body)
    if (refused !== undefined) return refused
    const email = String(body.email_address)
    if (subscriberHash(email) !== hash)
      return invalid(`The email address ${email} does not match the subscriber hash in the request's path.`)
    const a = audience(accountId, listId)
    const known = a.byId.get(hash)
    const seconds = nowSeconds()
    if (known !== undefined && known.status !== "archived") {
      const current = bodyOf(known)
      const status = (body.status as FakeMember["status"] | undefined) ?? current.status
      const stored = storedOf({ ...applied(current, body), status }, seconds)
      replace(a, known, stored)
      return json(200, wire(stored))
    }
    const status = (body.status ?? body.status_if_new) as FakeMember["status"] | undefined
    if (status === undefined)
      return unvalidated([
        { field: "status_if_new", message: "Required when the member is new: status or status_if_new" }
      ])
    const key = `${accountId}/${listId}/${hash}`
    if (forgotten.has(key))
      return problem(
        400,
        "Forgotten Email Not Subscribed",
        `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`
      )
    if (compliance.has(key) && (status === "subscribed" || status === "pending"))
      return problem(
        400,
        "Member In Compliance State",
        `${email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`
      )
    const base = known === undefined ? added(listId, email, seconds) : bodyOf(known)
    const stored = storedOf({ ...applied(base, body), status }, seconds)
    replace(a, known, stored)
    if (known === undefined) creations.set(accountId, (creations.get(accountId) ?? 0) + 1)
    return json(200, wire(stored))
  }

  const patchMember = (accountId: string, listId: string, hash: string, body: Record<string, unknown>): Reply => {
    const a = audience(accountId, listId)
    const known = a.byId.get(hash)
    if (known === undefined) return notFound()
    const refused =
      (body.email_address === undefined ? undefined : addressRefusal(body.email_address)) ?? statusRefusal(body)
    if (refused !== undefined) return refused
    const id = typeof body.email_address === "string" ? subscriberHash(body.email_address) : hash
    if (id !== hash && a.byId.has(id))
      return problem(
        400,
        "Member Exists",
        `${String(body.email_address)} is already a list member. Use PUT to insert or update list members.`
      )
    const current = bodyOf(known)
    const status = (body.status as FakeMember["status"] | undefined) ?? current.status
    const stored = storedOf({ ...applied(current, body), status, id }, nowSeconds())
    replace(a, known, stored)
    return json(200, wire(stored))
  }

  const archiveMember = (accountId: string, listId: string, hash: string): Reply => {
    const a = audience(accountId, listId)
    const known = a.byId.get(hash)
    if (known === undefined) return notFound()
    if (known.status !== "archived") replace(a, known, storedOf({ ...bodyOf(known), status: "archived" }, nowSeconds()))
    return { status: 204, headers: {}, body: "" }
  }

  const member = (accountId: string, method: string, listId: string, segment: string, text: string): Reply => {
    const hash = segment.includes("@") ? subscriberHash(decodeURIComponent(segment)) : segment.toLowerCase()
    if (method === "GET") {
      const known = audience(accountId, listId).byId.get(hash)
      return known === undefined ? notFound() : json(200, wire(known))
    }
    if (method === "DELETE") return archiveMember(accountId, listId, hash)
    if (method !== "PUT" && method !== "PATCH")
      return problem(
        405,
        "Method Not Allowed",
        "The requested method and resource are not compatible. See the Allow header for this resource's available methods."
      )
    const body = jsonBody(text)
    if (body === undefined) return jsonParseError()
    return method === "PUT" ? putMember(accountId, listId, hash, body) : patchMember(accountId, listId, hash, body)
  }

  /** Answers `/3.0/lists/{id}/members` (GET) and `/3.0/lists/{id}/members/{hash}`; undefined for any other path. */
  const respond = (accountId: string, method: string, url: URL, body = ""): Reply | undefined => {
    const [version, lists, listId, sub, hash, ...rest] = url.pathname.split("/").filter((s) => s !== "")
    if (version !== "3.0" || lists !== "lists" || sub !== "members" || rest.length > 0) return undefined
    if (listId === undefined || !options.audiences().includes(listId)) return notFound()
    if (hash !== undefined) return member(accountId, method, listId, hash, body)
    if (method !== "GET") return undefined
    return listMembers(accountId, listId, url.searchParams)
  }

  return {
    admit,
    settle,
    respond,
    controls: {
      /**
       * Adds `count` generated members to the account's audience (default: its oldest), last changed between a year
       * and a day ago, in an add order unrelated to their change times. Returns their ids.
       */
      seed: (
        accountId: string,
        entityType: string,
        count: number,
        where: { readonly listId?: string } = {}
      ): ReadonlyArray<string> => {
        contactsOnly(entityType)
        const listId = listOf(where.listId)
        const a = audience(accountId, listId)
        const latest = nowSeconds() - 86_400
        const salt = nextSalt("s")
        const ids: Array<string> = []
        // One draw for the whole seed: a call per member would cost more than the rest of the member.
        const batch: SeedBatch = { listId, salt, random: randomBytes(5 * count).toString("hex") }
        for (let i = 0; i < count; i++) {
          const id = subscriberHash(emailOf(i, salt))
          // A multiplicative hash spreads the change times over the year without sorting them by add order.
          const lastChanged = latest - ((i * 2_654_435_761) % (365 * 86_400))
          a.byId.set(id, { id, lastChanged, status: statusOf(i), body: { batch, i } })
          ids.push(id)
        }
        a.ordered = undefined
        return ids
      },
      /**
       * Adds or changes one member (what `PUT /lists/{id}/members/{hash}` does): a new one joins the end of the add
       * order, a known one keeps its place; either way `last_changed` is now. An archived member comes back.
       */
      upsertRecord: (
        accountId: string,
        entityType: string,
        change: FakeMemberChange,
        where: { readonly listId?: string } = {}
      ): FakeMember => {
        contactsOnly(entityType)
        const listId = listOf(where.listId)
        const a = audience(accountId, listId)
        const id = subscriberHash(change.email_address)
        const known = a.byId.get(id)
        const base =
          known === undefined
            ? generated(listId, a.byId.size, nowSeconds(), nextSalt("u"), randomBytes(5).toString("hex"))
            : bodyOf(known)
        const member: MemberBody = {
          ...base,
          ...change,
          merge_fields: { ...base.merge_fields, ...change.merge_fields },
          status: change.status ?? (known === undefined || base.status === "archived" ? "subscribed" : base.status),
          id,
          list_id: listId
        }
        const stored = storedOf(member, nowSeconds())
        replace(a, known, stored)
        return memberOf(stored)
      },
      /**
       * Archives a member (`DELETE /lists/{id}/members/{hash}`: it stays, `status: "archived"`, changed now), or with
       * `permanent` deletes it for good (`POST …/actions/delete-permanent`: it vanishes from every read).
       */
      deleteRecord: (
        accountId: string,
        entityType: string,
        id: string,
        how: { readonly permanent?: boolean; readonly listId?: string } = {}
      ) => {
        contactsOnly(entityType)
        const listId = listOf(how.listId)
        const a = audience(accountId, listId)
        const known = a.byId.get(id)
        if (known === undefined) throw new Error(`no member ${id}`)
        if (how.permanent === true) {
          a.byId.delete(id)
          forgotten.add(`${accountId}/${listId}/${id}`)
        } else a.byId.set(id, storedOf({ ...bodyOf(known), status: "archived" }, nowSeconds()))
        a.ordered = undefined
      },
      /** The audience's live (not archived) members in add order, as the API shows them. */
      records: (
        accountId: string,
        entityType: string,
        where: { readonly listId?: string } = {}
      ): ReadonlyArray<FakeMember & { readonly _links: ReadonlyArray<unknown> }> => {
        contactsOnly(entityType)
        return ordered(audience(accountId, listOf(where.listId)))
          .filter((s) => s.status !== "archived")
          .map(wire)
      },
      /** One member as `GET …/members/{hash}` answers it, archived or not; undefined when there is none. */
      member: (
        accountId: string,
        entityType: string,
        id: string,
        where: { readonly listId?: string } = {}
      ): (FakeMember & { readonly _links: ReadonlyArray<unknown> }) | undefined => {
        contactsOnly(entityType)
        const known = audience(accountId, listOf(where.listId)).byId.get(id)
        return known === undefined ? undefined : wire(known)
      },
      /** How many members the account's writes (PUTs, alone or in batches) added: a replay must add none. */
      creations: (accountId: string, entityType: string): number => {
        contactsOnly(entityType)
        return creations.get(accountId) ?? 0
      },
      /** The address is in a compliance state in the audience: a write cannot subscribe it (Member In Compliance State). */
      setComplianceState: (accountId: string, email: string, where: { readonly listId?: string } = {}) => {
        compliance.add(`${accountId}/${listOf(where.listId)}/${subscriberHash(email)}`)
      },
      /** The next `times` API requests (of one account, or all) fail with `status`; `times` absent: until cleared. */
      inject: (failure: FakeMailchimpInjection) => {
        injection = { ...failure, remaining: failure.times ?? 0 }
      },
      clearInjections: () => {
        injection = null
      },
      /** Every admitted API answer waits this long first (so requests overlap and the connection limit shows). */
      setDataLatency: (ms: number) => {
        latencyMs = ms
      },
      /** The account's `/3.0/lists…` requests, answered or refused, with the fake's time. */
      dataRequests: (accountId: string): ReadonlyArray<FakeDataRequest> => [...(requests.get(accountId) ?? [])],
      /** At most `limit` requests per `windowMs` for the account, 429 with Retry-After above; null lifts it. */
      setRateLimit: (accountId: string, limit: { readonly limit: number; readonly windowMs: number } | null) => {
        if (limit === null) rateLimits.delete(accountId)
        else rateLimits.set(accountId, limit)
      },
      /** The most requests of the account the fake has had in flight at once. */
      inFlightPeak: (accountId: string) => peaks.get(accountId) ?? 0
    }
  }
}
