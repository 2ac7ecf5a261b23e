import { type Config, Effect } from "effect"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import {
  type HistoryExpired,
  type Page,
  type PageRequest,
  ProviderCallFailed,
  type ProviderDataAdapter,
  type ProviderRecord
} from "../../../ports/sync/ProviderData.ts"
import { squareWireConfig } from "./SquareConfig.ts"
import { decodeCursor, encodeCursor, type SquareCursor } from "./SquareCursor.ts"
import { type SquareWireConfig, squareCall, type WireAnswer } from "./SquareWire.ts"

/** Square's largest page per endpoint (PROVIDERS.md §1c); SearchOrders' default 500 keeps full orders' pages modest. */
const pageSizes: Partial<Record<EntityType, number>> = { customer: 100, product: 1000, order: 500, payment: 100 }

/** SearchOrders takes at most ten locations per query. */
const locationsPerQuery = 10

/**
 * Square indexes new and changed customers for list and search up to about a minute late (PROVIDERS.md §3): a
 * watermark taken from Square's clock is moved back this much, so the next pass also reads what was still being
 * indexed. The overlap is read twice, which writes are idempotent about.
 */
const indexingDelayMillis = 60_000

/** ListPayments reads only the last year by `created_at` unless `begin_time` says otherwise; Square began in 2009. */
const everyPayment = "2009-01-01T00:00:00Z"

const orderStates = ["OPEN", "COMPLETED", "CANCELED", "DRAFT"] as const

const objectsOf = (body: Record<string, unknown>, key: string): ReadonlyArray<Record<string, unknown>> => {
  const list = body[key]
  return Array.isArray(list) ? (list as ReadonlyArray<Record<string, unknown>>) : []
}

const cursorOf = (body: Record<string, unknown>): string | null =>
  typeof body.cursor === "string" && body.cursor !== "" ? body.cursor : null

/** One page's request, read once: `id` names the pass in its cursors. */
interface Pass {
  readonly id: string
  readonly request: PageRequest
  readonly since: Date | null
  readonly at: SquareCursor | null
}

const live = (raw: Record<string, unknown>): ProviderRecord => ({ externalId: String(raw.id), raw, deleted: false })

/** Square's clock at the pass's first call, less the indexing delay. */
const clockWatermark = (answer: WireAnswer): string | null =>
  answer.date === null ? null : new Date(answer.date.getTime() - indexingDelayMillis).toISOString()

/**
 * Reads a seller's customers, catalog ITEMs (products), orders and payments with the official `square` SDK, one
 * call per page (an orders pass also lists the seller's locations on its first page).
 *
 * Full passes read every live object oldest first. Incremental passes read what changed at or after `since`:
 * customers by SearchCustomers `updated_at`, orders by SearchOrders `updated_at` (sorted by it, as Square requires),
 * payments by ListPayments `updated_at_begin_time`, and the catalog by SearchCatalogObjects `begin_time` with its
 * tombstones (`is_deleted: true`, flagged `deleted`). Square keeps no trace of a deleted customer, and orders and
 * payments cannot be deleted: a deleted customer only shows as missing from the next full pass, which the engine
 * detects. The catalog's watermark is Square's `latest_time` (with `begin_time` exclusive); the others' is Square's
 * `Date` at the pass's first page less the indexing delay, so a change made while a pass reads is never lost.
 */
export const squareData = (config: SquareWireConfig): ProviderDataAdapter => {
  const read = (request: PageRequest, operation: string, run: Parameters<typeof squareCall>[3]) =>
    squareCall(config, request.credential.token, operation, run)

  const page = (
    records: ReadonlyArray<ProviderRecord>,
    next: SquareCursor | null,
    watermark: string | null,
    total: number | null = null
  ): Page => ({
    records,
    nextCursor: next === null ? null : encodeCursor(next),
    total,
    watermark: watermark === null ? null : new Date(watermark),
    notes: []
  })

  const customers = Effect.fnUntraced(function* (pass: Pass) {
    const { request, since, at } = pass
    const cursor = at?.next ? { cursor: at.next } : {}
    const answer =
      since === null
        ? yield* read(request, "ListCustomers", (client, abortSignal) =>
            client.customers.list(
              { limit: 100, sortField: "CREATED_AT", sortOrder: "ASC", count: at === null, ...cursor },
              { abortSignal }
            )
          )
        : yield* read(request, "SearchCustomers", (client, abortSignal) =>
            client.customers.search(
              {
                limit: BigInt(100),
                ...cursor,
                count: at === null,
                query: {
                  filter: { updatedAt: { startAt: since.toISOString() } },
                  sort: { field: "CREATED_AT", order: "ASC" }
                }
              },
              { abortSignal }
            )
          )
    const watermark = at === null ? clockWatermark(answer) : at.watermark
    const next = cursorOf(answer.body)
    return page(
      objectsOf(answer.body, "customers").map(live),
      next === null ? null : { pass: pass.id, next, watermark },
      watermark,
      typeof answer.body.count === "number" ? answer.body.count : null
    )
  })

  const products = Effect.fnUntraced(function* (pass: Pass) {
    const { request, since, at } = pass
    const answer = yield* read(request, "SearchCatalogObjects", (client, abortSignal) =>
      client.catalog.search(
        {
          objectTypes: ["ITEM"],
          limit: 1000,
          ...(at?.next ? { cursor: at.next } : {}),
          ...(since === null ? {} : { beginTime: since.toISOString(), includeDeletedObjects: true })
        },
        { abortSignal }
      )
    )
    const latest = typeof answer.body.latest_time === "string" ? answer.body.latest_time : null
    const watermark = at === null ? latest : at.watermark
    const next = cursorOf(answer.body)
    return page(
      objectsOf(answer.body, "objects").map((raw) => ({ ...live(raw), deleted: raw.is_deleted === true })),
      next === null ? null : { pass: pass.id, next, watermark },
      watermark
    )
  })

  const orders = Effect.fnUntraced(function* (pass: Pass) {
    const { request, since, at } = pass
    let locations = at?.locations
    let watermark = at?.watermark ?? null
    if (at === null) {
      const listed = yield* read(request, "ListLocations", (client, abortSignal) =>
        client.locations.list({ abortSignal })
      )
      locations = objectsOf(listed.body, "locations").map((l) => String(l.id))
      watermark = clockWatermark(listed)
    }
    const all = locations ?? []
    const group = at?.group ?? 0
    const ids = all.slice(group * locationsPerQuery, (group + 1) * locationsPerQuery)
    if (ids.length === 0) return page([], null, watermark)
    const field = since === null ? "CREATED_AT" : "UPDATED_AT"
    const answer = yield* read(request, "SearchOrders", (client, abortSignal) =>
      client.orders.search(
        {
          locationIds: ids,
          limit: 500,
          ...(at?.next ? { cursor: at.next } : {}),
          query: {
            filter: {
              stateFilter: { states: [...orderStates] },
              ...(since === null ? {} : { dateTimeFilter: { updatedAt: { startAt: since.toISOString() } } })
            },
            sort: { sortField: field, sortOrder: "ASC" }
          }
        },
        { abortSignal }
      )
    )
    const next = cursorOf(answer.body)
    const following: SquareCursor | null =
      next !== null
        ? { pass: pass.id, next, watermark, locations: all, group }
        : (group + 1) * locationsPerQuery < all.length
          ? { pass: pass.id, next: null, watermark, locations: all, group: group + 1 }
          : null
    return page(objectsOf(answer.body, "orders").map(live), following, watermark)
  })

  const payments = Effect.fnUntraced(function* (pass: Pass) {
    const { request, since, at } = pass
    const answer = yield* read(request, "ListPayments", (client, abortSignal) =>
      client.payments.list(
        {
          beginTime: everyPayment,
          sortOrder: "ASC",
          sortField: since === null ? "CREATED_AT" : "UPDATED_AT",
          limit: 100,
          ...(at?.next ? { cursor: at.next } : {}),
          ...(since === null ? {} : { updatedAtBeginTime: since.toISOString() })
        },
        { abortSignal }
      )
    )
    const watermark = at === null ? clockWatermark(answer) : at.watermark
    const next = cursorOf(answer.body)
    return page(
      objectsOf(answer.body, "payments").map(live),
      next === null ? null : { pass: pass.id, next, watermark },
      watermark
    )
  })

  const readers: Partial<Record<EntityType, (pass: Pass) => Effect.Effect<Page, ProviderCallFailed>>> = {
    customer: customers,
    product: products,
    order: orders,
    payment: payments
  }

  return {
    provider: "square",
    pageSize: (entityType) => pageSizes[entityType] ?? 100,
    page: (request: PageRequest): Effect.Effect<Page, ProviderCallFailed | HistoryExpired> => {
      const reader = readers[request.entityType]
      if (reader === undefined)
        return Effect.fail(
          new ProviderCallFailed({
            provider: "square",
            kind: "rejected",
            status: null,
            retryAfterMillis: null,
            message: `Square has no ${request.entityType} objects to sync`
          })
        )
      // Incremental without a previous watermark reads everything, as a full pass would.
      const since = request.mode === "incremental" ? request.since : null
      const id = `${request.entityType}:${since === null ? "full" : `since ${since.toISOString()}`}`
      return Effect.gen(function* () {
        const at = request.cursor === null ? null : yield* decodeCursor(request.cursor, id)
        return yield* reader({ id, request, since, at })
      }).pipe(
        Effect.withSpan("SquareData.page", { attributes: { entityType: request.entityType, mode: request.mode } })
      )
    }
  }
}

/** The Square data adapter from configuration (`squareWireConfig`). */
export const makeSquareData: Effect.Effect<ProviderDataAdapter, Config.ConfigError> = Effect.map(
  squareWireConfig,
  squareData
)
