import { randomBytes } from "node:crypto"
import { json, type Reply } from "./FakeHttp.ts"
import { mailchimpProblems, type Problem } from "./FakeMailchimpProblems.ts"

/**
 * Mailchimp's audiences (`/3.0/lists`) and their webhooks, on the Marketing API's wire (PROVIDERS.md §1b, §5):
 * `GET /lists` (`count`/`offset`, `total_items`), `GET /lists/{id}`, `GET|POST /lists/{id}/webhooks`,
 * `GET|DELETE /lists/{id}/webhooks/{webhook_id}` (204, no body). An unknown list or webhook is a 404 problem document;
 * a webhook without a usable `url` is a 400 "Invalid Resource" with an `errors` array. Unlike Mailchimp, the fake does
 * not call the webhook URL back to validate it (tests run the service on an address Mailchimp could not reach).
 */
export interface FakeAudience {
  readonly id: string
  readonly name: string
}

export interface FakeListWebhook {
  readonly id: string
  readonly url: string
  readonly events: Readonly<Record<string, boolean>>
  readonly sources: Readonly<Record<string, boolean>>
  readonly list_id: string
}

const eventNames = ["subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"]
const sourceNames = ["user", "admin", "api"]

const hexId = () => randomBytes(5).toString("hex")

/** `{ subscribe: true, … }` as sent, every documented key present (absent ones false). */
const flags = (names: ReadonlyArray<string>, given: unknown) =>
  Object.fromEntries(
    names.map((name) => [name, typeof given === "object" && given !== null && (given as any)[name] === true])
  )

const listObject = (audience: FakeAudience, members: number) => ({
  id: audience.id,
  web_id: Number.parseInt(audience.id.slice(0, 6), 16),
  name: audience.name,
  contact: {
    company: audience.name,
    address1: "1 Stage Door",
    address2: "",
    city: "Springfield",
    state: "IL",
    zip: "62701",
    country: "US",
    phone: ""
  },
  permission_reminder: "You bought a ticket from us.",
  use_archive_bar: true,
  campaign_defaults: {
    from_name: audience.name,
    from_email: "box-office@example.test",
    subject: "",
    language: "en"
  },
  notify_on_subscribe: "",
  notify_on_unsubscribe: "",
  date_created: "2026-01-15T10:00:00+00:00",
  list_rating: 0,
  email_type_option: false,
  subscribe_url_short: `http://eepurl.com/${audience.id.slice(0, 6)}`,
  subscribe_url_long: `https://example.us19.list-manage.com/subscribe?id=${audience.id}`,
  beamer_address: `us19-${audience.id}@inbound.mailchimp.com`,
  visibility: "prv",
  double_optin: false,
  has_welcome: false,
  marketing_permissions: false,
  modules: [],
  stats: {
    member_count: members,
    unsubscribe_count: 0,
    cleaned_count: 0,
    member_count_since_send: members,
    unsubscribe_count_since_send: 0,
    cleaned_count_since_send: 0,
    campaign_count: 0,
    merge_field_count: 2,
    avg_sub_rate: 0,
    avg_unsub_rate: 0,
    target_sub_rate: 0,
    open_rate: 0,
    click_rate: 0
  },
  _links: []
})

const parseWebhook = (body: string) => {
  const given: unknown = JSON.parse(body)
  return typeof given === "object" && given !== null ? (given as Record<string, unknown>) : {}
}

const usableUrl = (value: unknown) => {
  if (typeof value !== "string") return false
  try {
    const url = new URL(value)
    return url.protocol === "https:" || url.protocol === "http:"
  } catch {
    return false
  }
}

/** The lists part of the fake: `respond` answers `/3.0/lists…` (undefined for any other path). */
export const fakeMailchimpLists = (audiences: ReadonlyArray<FakeAudience>, problem: Problem) => {
  const lists = new Map(audiences.map((a) => [a.id, a]))
  const webhooks = new Map<string, FakeListWebhook>()
  const stats = { listReads: 0, webhooksCreated: 0, webhooksDeleted: 0 }
  const { notFound } = mailchimpProblems(problem)

  const hooksOf = (listId: string) => [...webhooks.values()].filter((w) => w.list_id === listId)

  const createWebhook = (listId: string, body: string) => {
    const given = parseWebhook(body)
    if (!usableUrl(given.url))
      return problem(
        400,
        "Invalid Resource",
        "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        { errors: [{ field: "url", message: "Please enter a valid URL." }] }
      )
    const webhook: FakeListWebhook = {
      id: hexId(),
      url: given.url as string,
      events: flags(eventNames, given.events),
      sources: flags(sourceNames, given.sources),
      list_id: listId
    }
    webhooks.set(webhook.id, webhook)
    stats.webhooksCreated += 1
    return json(200, { ...webhook, _links: [] })
  }

  const respond = (method: string, url: URL, body: string): Reply | undefined => {
    const path = url.pathname.split("/").filter((s) => s !== "")
    if (path[0] !== "3.0" || path[1] !== "lists") return undefined
    const [, , listId, sub, webhookId, ...rest] = path
    if (listId === undefined) {
      if (method !== "GET") return undefined
      stats.listReads += 1
      const count = Math.min(Number(url.searchParams.get("count") ?? 10) || 10, 1000)
      const offset = Number(url.searchParams.get("offset") ?? 0) || 0
      const all = [...lists.values()]
      return json(200, {
        lists: all.slice(offset, offset + count).map((a) => listObject(a, 0)),
        total_items: all.length,
        constraints: { may_create: true, max_instances: 100, current_total_instances: all.length },
        _links: []
      })
    }
    if (sub !== undefined && sub !== "webhooks") return undefined
    if (!lists.has(listId) || rest.length > 0) return notFound()
    if (sub === undefined) {
      if (method !== "GET") return undefined
      stats.listReads += 1
      return json(200, listObject(lists.get(listId)!, 0))
    }
    if (webhookId === undefined) {
      if (method === "POST") return createWebhook(listId, body)
      if (method !== "GET") return undefined
      const hooks = hooksOf(listId)
      return json(200, {
        webhooks: hooks.map((w) => ({ ...w, _links: [] })),
        list_id: listId,
        total_items: hooks.length,
        _links: []
      })
    }
    const webhook = webhooks.get(webhookId)
    if (webhook === undefined || webhook.list_id !== listId) return notFound()
    if (method === "GET") return json(200, { ...webhook, _links: [] })
    if (method !== "DELETE") return undefined
    webhooks.delete(webhookId)
    stats.webhooksDeleted += 1
    return { status: 204, headers: {}, body: "" }
  }

  return {
    respond,
    stats: () => ({ ...stats }),
    controls: {
      /** The account's audiences. */
      audiences: (): ReadonlyArray<FakeAudience> => [...lists.values()],
      /** Every webhook registered at the fake, or those of one list. */
      webhooks: (listId?: string): ReadonlyArray<FakeListWebhook> =>
        listId === undefined ? [...webhooks.values()] : hooksOf(listId)
    }
  }
}
