import { Clock, type Config, Effect, Schema } from "effect"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import {
  type DataCredential,
  HistoryExpired,
  type Page,
  type PageRequest,
  type ProviderDataAdapter,
  type ProviderRecord
} from "../../../ports/sync/ProviderData.ts"
import { failed, makeQuickBooksHttp } from "./QuickBooksHttp.ts"

/** The QuickBooks object behind each entity type (domain/mapping/Catalogs.ts). */
const entityNames: Partial<Record<EntityType, string>> = {
  customer: "Customer",
  product: "Item",
  order: "SalesReceipt",
  invoice: "Invoice",
  payment: "Payment"
}
/** Name-list objects are never deleted in QuickBooks, only made inactive, which drops them from queries. */
const nameLists = new Set(["Customer", "Item"])

/** A query page and a CDC answer both hold at most 1,000 objects. */
const pageSize = 1000
const cdcLookBackMs = 30 * 86_400_000

/**
 * Full: the 1-based STARTPOSITION of the next query page, and the `time` of the pass's first answer (the next
 * incremental pass starts there, so what changed during this pass is read again).
 * Incremental: the start of the CDC window still to read, in whole seconds (QuickBooks stamps LastUpdatedTime to
 * the second).
 */
const Cursor = Schema.Union([
  Schema.Struct({ mode: Schema.Literal("full"), position: Schema.Number, startedAt: Schema.String }),
  Schema.Struct({ mode: Schema.Literal("incremental"), from: Schema.String })
])
type Cursor = typeof Cursor.Type
const CursorJson = Schema.fromJsonString(Cursor)
const decodeCursor = Schema.decodeUnknownOption(CursorJson)
const encodeCursor = (cursor: Cursor) => JSON.stringify(cursor)

type QuickBooksObject = Record<string, unknown>

/** A QuickBooks `time` (`2020-09-29T06:04:49.352-07:00`) as a Date; null when absent or unreadable. */
const validDate = (text: string): Date | null => {
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? null : new Date(ms)
}

const timeOf = (object: QuickBooksObject): number => {
  const updated = (object.MetaData as { LastUpdatedTime?: unknown } | undefined)?.LastUpdatedTime
  return typeof updated === "string" ? Date.parse(updated) : Number.NaN
}

const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000
/** QuickBooks reads ISO 8601 with an offset; seconds are its resolution. */
const isoSeconds = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`

const recordOf = (entity: string, object: QuickBooksObject): ProviderRecord => ({
  externalId: String(object.Id),
  raw: object,
  // A deleted transaction is `{Id, status: "Deleted"}`; an inactive Customer/Item is gone from the live set.
  deleted: object.status === "Deleted" || (nameLists.has(entity) && object.Active === false)
})

/**
 * Reading QuickBooks Online for sync: full passes page `select * from <Entity> ORDERBY Id` by STARTPOSITION
 * (1-based, 1,000 a page); incremental passes read CDC (`/cdc?entities=<Entity>&changedSince=…`), which reaches 30
 * days back and answers at most 1,000 objects, oldest change first.
 *
 * CDC has no end bound, so a saturated answer (1,000 objects) is narrowed by its own content: the page keeps the
 * objects older than the newest one in the answer and the next page's window starts at that newest time (the
 * objects stamped with it are read again there, whole). An answer that is saturated within a single second, or out
 * of time order, cannot be split: the pass fails with HistoryExpired, i.e. sync in full.
 *
 * Plain `fetch`, not intuit-oauth's `makeApiCall`: makeApiCall turns a 429 into an OAuthError without the response
 * headers (Retry-After is lost) and keeps only `data.error` of a 401/403/404 (Intuit's `Fault` reason is lost); its
 * axios instance is not part of its typed API. intuit-oauth has no data API of its own beyond that call, and the
 * wire is a Bearer GET with `minorversion`, as QuickBooksOAuth sends. One request per page, no retries.
 */
export const makeQuickBooksData: Effect.Effect<ProviderDataAdapter, Config.ConfigError> = Effect.gen(function* () {
  const http = yield* makeQuickBooksHttp

  const call = (credential: DataCredential, realm: string, path: string, query: string) =>
    http.data(credential, realm, { method: "GET", path, query })

  const full = Effect.fn("QuickBooksData.full")(function* (
    entity: string,
    request: PageRequest,
    realm: string,
    cursor: Extract<Cursor, { mode: "full" }> | null
  ) {
    const position = cursor?.position ?? 1
    const statement = `select * from ${entity} ORDERBY Id STARTPOSITION ${position} MAXRESULTS ${pageSize}`
    const body = yield* call(request.credential, realm, "query", `query=${encodeURIComponent(statement)}`)
    const answer = body.QueryResponse as Record<string, unknown> | undefined
    const objects = (answer?.[entity] ?? []) as ReadonlyArray<QuickBooksObject>
    const startedAt = cursor?.startedAt ?? (typeof body.time === "string" ? body.time : "")
    const more = objects.length === pageSize
    return {
      records: objects.map((o) => recordOf(entity, o)),
      nextCursor: more ? encodeCursor({ mode: "full", position: position + objects.length, startedAt }) : null,
      total: null,
      watermark: more ? null : validDate(startedAt),
      notes: []
    } satisfies Page
  })

  const incremental = Effect.fn("QuickBooksData.incremental")(function* (
    entity: string,
    request: PageRequest,
    realm: string,
    cursor: Extract<Cursor, { mode: "incremental" }> | null
  ) {
    const since = cursor === null ? request.since : new Date(cursor.from)
    if (since === null || Number.isNaN(since.getTime()))
      return yield* new HistoryExpired({ provider: "quickbooks", message: "no watermark to read changes from" })
    const from = wholeSecond(since.getTime())
    // One second earlier: whether Intuit's changedSince is inclusive or not, the objects stamped `from` come back.
    const changedSince = from - 1000
    const now = yield* Clock.currentTimeMillis
    if (changedSince < now - cdcLookBackMs)
      return yield* new HistoryExpired({
        provider: "quickbooks",
        message: `QuickBooks keeps 30 days of changes; ${isoSeconds(from)} is older`
      })
    const body = yield* call(
      request.credential,
      realm,
      "cdc",
      `entities=${entity}&changedSince=${encodeURIComponent(isoSeconds(changedSince))}`
    )
    const groups = (body.CDCResponse as ReadonlyArray<{ QueryResponse?: ReadonlyArray<Record<string, unknown>> }>)
      ?.flatMap((r) => r.QueryResponse ?? [])
      .flatMap((q) => (q[entity] ?? []) as ReadonlyArray<QuickBooksObject>)
    const objects = groups ?? []
    const inWindow = objects.filter((o) => timeOf(o) >= from)
    if (objects.length < pageSize)
      return {
        records: inWindow.map((o) => recordOf(entity, o)),
        nextCursor: null,
        total: null,
        watermark: typeof body.time === "string" ? validDate(body.time) : null,
        notes: []
      } satisfies Page
    const times = objects.map(timeOf)
    const newest = times[times.length - 1] ?? Number.NaN
    const ordered = times.every((t, i) => !Number.isNaN(t) && (i === 0 || t >= (times[i - 1] ?? t)))
    if (!ordered || !(newest > from))
      return yield* new HistoryExpired({
        provider: "quickbooks",
        message: ordered
          ? `more than ${pageSize} ${entity} changes at ${isoSeconds(from)}; CDC cannot split them`
          : `CDC answered ${pageSize} ${entity} objects out of time order; the window cannot be split`
      })
    return {
      records: inWindow.filter((o) => timeOf(o) < newest).map((o) => recordOf(entity, o)),
      nextCursor: encodeCursor({ mode: "incremental", from: isoSeconds(newest) }),
      total: null,
      watermark: null,
      notes: [
        `QuickBooks CDC answered its cap of ${pageSize} ${entity} objects since ${isoSeconds(from)}; the window now starts at ${isoSeconds(newest)}`
      ]
    } satisfies Page
  })

  const page = Effect.fn("QuickBooksData.page")(function* (request: PageRequest) {
    const entity = entityNames[request.entityType]
    if (entity === undefined)
      return yield* failed("rejected", null, `QuickBooks has no ${request.entityType} objects to read`)
    const realm = request.credential.accountId
    if (realm === null)
      return yield* failed("unauthorized", null, "the connection has no QuickBooks company; connect again")
    const cursor = request.cursor === null ? null : decodeCursor(request.cursor)
    if (cursor !== null && (cursor._tag === "None" || cursor.value.mode !== request.mode))
      return yield* failed("rejected", null, `the stored cursor is not a QuickBooks ${request.mode} cursor`)
    const current = cursor === null ? null : cursor.value
    if (request.mode === "full") return yield* full(entity, request, realm, current?.mode === "full" ? current : null)
    return yield* incremental(entity, request, realm, current?.mode === "incremental" ? current : null)
  })

  return { provider: "quickbooks", pageSize: () => pageSize, page } satisfies ProviderDataAdapter
})
