import { type Config, Effect, Option } from "effect"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import {
  type Page,
  type PageRequest,
  ProviderCallFailed,
  type ProviderDataAdapter,
  type ProviderRecord
} from "../../../ports/sync/ProviderData.ts"
import { MailchimpClientConfig, mailchimpClient } from "./MailchimpClient.ts"
import { type MailchimpDataCursor, readCursor, writeCursor } from "./MailchimpDataCursor.ts"

/** Mailchimp's largest `count` for list members. */
const pageSize = 1000
/** Ids of a page's last members read again at the start of the next one (see MailchimpDataCursor). */
const overlap = 20

/** `2015-10-21T15:41:36+00:00`, the instant format the Marketing API takes and writes. */
const wireInstant = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00")

/** A member timestamp: ISO 8601, or the older `YYYY-MM-DD HH:MM:SS` in UTC; null when empty or unreadable. */
const instantOf = (value: unknown): number | null => {
  if (typeof value !== "string" || value === "") return null
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value) ? `${value.replace(" ", "T")}Z` : value)
  return Number.isNaN(ms) ? null : ms
}

const failed = (kind: "rejected" | "unauthorized", message: string) =>
  new ProviderCallFailed({ provider: "mailchimp", kind, status: null, retryAfterMillis: null, message })

/**
 * Reads Mailchimp contacts (the members of the venue's audience, else the account's oldest) through the marketing SDK,
 * one `GET /lists/{id}/members?count=1000&offset=n` per page (the first page of a pass without a chosen audience also
 * finds the oldest one). Pages follow Mailchimp's default order, where a member keeps its place when it changes, rather
 * than `sort_field=last_changed`, which moves a changed member to the end and has no tiebreak for the thousands an
 * import changes in one second; each page reads the previous page's last `overlap` members again, so a member removed
 * before the offset shifts nothing past the pass. Incremental passes add `since_last_changed` (one second early:
 * Mailchimp's times have no finer grain and "after" may be strict); archived members come back with `status:
 * "archived"` and are flagged deleted; members deleted for good vanish, and only a full pass notices. The watermark
 * is Mailchimp's clock at the pass's first answer (its Date header): whatever changes after that, even a member the
 * pass had already read, is after it; without a Date header, the latest `last_changed` seen.
 */
export const mailchimpData = (config: MailchimpClientConfig): ProviderDataAdapter => {
  const { clientFor, call, oldestAudience } = mailchimpClient(config)

  const page = Effect.fn("MailchimpData.page")(function* (request: PageRequest) {
    if (request.entityType !== "contact")
      return yield* failed("rejected", `Mailchimp has no ${request.entityType} records; only contacts`)
    const client = clientFor(request.credential)
    if (client === undefined)
      return yield* failed("unauthorized", "the connection has no Mailchimp API endpoint; connect again")
    const notes: Array<string> = []

    let cursor: MailchimpDataCursor | null = null
    if (request.cursor !== null) {
      const stored = readCursor(request.cursor)
      const chosen = request.credential.audienceId
      if (Option.isNone(stored)) notes.push("the stored Mailchimp cursor was unreadable; the pass starts over")
      else if (chosen !== null && stored.value.list !== chosen)
        notes.push(`the venue chose audience ${chosen} since the pass began in ${stored.value.list}; it starts over`)
      else cursor = stored.value
    }

    const listId = cursor?.list ?? request.credential.audienceId ?? (yield* oldestAudience(client))
    if (listId === null) {
      notes.push("the Mailchimp account has no audience")
      return { records: [], nextCursor: null, total: 0, watermark: null, notes } satisfies Page
    }
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": listId, "sync.mode": request.mode })

    const seen = cursor?.seen ?? []
    const offset = Math.max(0, (cursor?.offset ?? 0) - seen.length)
    const since =
      request.mode === "incremental" && request.since !== null
        ? { since_last_changed: wireInstant(Math.floor(request.since.getTime() / 1000) * 1000 - 1000) }
        : {}
    const { data, response } = yield* call("GET /lists/{id}/members", () =>
      client.lists.getListMembersInfoWithHttpInfo(listId, { count: pageSize, offset, ...since })
    )
    const members = Array.isArray(data.members) ? data.members : []
    const total = typeof data.total_items === "number" ? data.total_items : null

    const already = new Set(seen)
    const records: Array<ProviderRecord> = []
    let newest = instantOf(cursor?.newest)
    for (const member of members) {
      const id = member.id
      if (typeof id !== "string" || id === "") {
        notes.push("Mailchimp answered a member without an id; it was left out")
        continue
      }
      const changed = instantOf(member.last_changed)
      if (changed !== null && (newest === null || changed > newest)) newest = changed
      if (already.has(id)) continue
      records.push({ externalId: id, raw: member, deleted: member.status === "archived" })
    }
    if (seen.length > 0 && members.length > 0 && records.length === members.length)
      notes.push(
        `more than ${overlap} members before offset ${offset + seen.length} left the audience's order during the pass; ` +
          "some may be missed until the next full pass"
      )

    const answeredAt = instantOf(response.headers?.date)
    const start = cursor?.start ?? (answeredAt === null ? null : wireInstant(answeredAt))
    const startedAt = instantOf(start)
    const watermark = startedAt !== null ? new Date(startedAt) : newest === null ? null : new Date(newest)
    const next = offset + members.length
    const done = members.length < pageSize || (total !== null && next >= total)
    return {
      records,
      nextCursor: done
        ? null
        : writeCursor({
            list: listId,
            offset: next,
            seen: members.slice(-overlap).flatMap((m) => (typeof m.id === "string" ? [m.id] : [])),
            start,
            newest: newest === null ? null : wireInstant(newest)
          }),
      total,
      watermark,
      notes
    } satisfies Page
  })

  return {
    provider: "mailchimp",
    pageSize: (_entityType: EntityType) => pageSize,
    page
  }
}

/** The Mailchimp reader from MAILCHIMP_API_BASE_URL (optional) and PROVIDER_TIMEOUT (default 30 s, per call). */
export const makeMailchimpData: Effect.Effect<ProviderDataAdapter, Config.ConfigError> = Effect.map(
  MailchimpClientConfig,
  mailchimpData
)
