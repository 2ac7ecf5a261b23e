import { Config, Duration, Effect, Option, Redacted, Schema } from "effect"
import type Stripe from "stripe"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import {
  HistoryExpired,
  type Page,
  type PageRequest,
  ProviderCallFailed,
  type ProviderDataAdapter,
  type ProviderRecord
} from "../../../ports/sync/ProviderData.ts"
import { stripeClient } from "./StripeClient.ts"
import { toProviderCallFailed } from "./StripeDataErrors.ts"

export interface StripeDataOptions {
  /** A Stripe-compatible server (the sandbox fake); the SDK's default api.stripe.com when absent. */
  readonly baseUrl: Option.Option<URL>
  readonly timeout: Duration.Duration
}

export const StripeDataConfig = Config.all({
  baseUrl: Config.option(Config.URL("STRIPE_API_BASE_URL")),
  timeout: Config.Duration("PROVIDER_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
})

const pageSize = 100
/** Stripe keeps events 30 days; an hour less leaves room for a pass that takes a while. */
const eventHistoryMillis = Duration.toMillis(Duration.days(30)) - Duration.toMillis(Duration.hours(1))
/** The watermark stays this far behind Stripe's clock at the start of a pass, for events still being written. */
const clockMarginSeconds = 60

interface ListParams {
  readonly limit: number
  readonly starting_after?: string
  readonly ending_before?: string
  readonly created?: { readonly gte?: number; readonly lt?: number }
  readonly expand?: Array<string>
  readonly ids?: Array<string>
  readonly type?: string
  readonly types?: Array<string>
}

interface StripeList {
  readonly data: ReadonlyArray<unknown>
  readonly has_more: boolean
  readonly lastResponse?: { readonly headers?: Record<string, string> }
}

interface EntitySpec {
  /** The `object` of the Stripe object the entity type is (Catalogs: order = PaymentIntent, payment = Charge). */
  readonly object: string
  readonly list: (client: Stripe, params: ListParams) => Promise<StripeList>
  /** Its events: exact names where a wildcard would also match other objects' events (`customer.subscription.*`). */
  readonly events: Pick<ListParams, "type" | "types">
  /**
   * Events carry objects unexpanded; an entity whose mapping reads an expansion is read again by id (products: the
   * default template reads `default_price.unit_amount`).
   */
  readonly reread?: (client: Stripe, ids: Array<string>) => Promise<StripeList>
}

const productExpand = ["data.default_price"]

const specs: Partial<Record<EntityType, EntitySpec>> = {
  customer: {
    object: "customer",
    list: (client, params) => client.customers.list(params as Stripe.CustomerListParams),
    events: { types: ["customer.created", "customer.updated", "customer.deleted"] }
  },
  product: {
    object: "product",
    list: (client, params) => client.products.list({ ...params, expand: productExpand } as Stripe.ProductListParams),
    events: { type: "product.*" },
    reread: (client, ids) => client.products.list({ ids, expand: productExpand, limit: pageSize })
  },
  order: {
    object: "payment_intent",
    list: (client, params) => client.paymentIntents.list(params as Stripe.PaymentIntentListParams),
    events: { type: "payment_intent.*" }
  },
  invoice: {
    object: "invoice",
    list: (client, params) => client.invoices.list(params as Stripe.InvoiceListParams),
    events: { type: "invoice.*" }
  },
  payment: {
    object: "charge",
    list: (client, params) => client.charges.list(params as Stripe.ChargeListParams),
    events: { type: "charge.*" }
  }
}

/**
 * Where a pass stands. A full pass is one `objects` walk, newest first. An incremental pass reads events first, then
 * lists the objects created since `since` (their current state, so it lands after any older event state):
 * `anchor` finds the newest event before `since`; from it the `up` walk reads the window oldest first (Stripe's
 * `ending_before`), so an object changed twice ends on its newest state. Without such an event there is nothing to
 * walk up from: `down` reads newest first and skips objects it has already answered (`seen`).
 * `start` is Stripe's clock at the pass's first answer; `mark` the newest `created` seen.
 */
const Cursor = Schema.Union([
  Schema.Struct({
    phase: Schema.Literal("objects"),
    after: Schema.NullOr(Schema.String),
    start: Schema.NullOr(Schema.Number),
    mark: Schema.Number
  }),
  Schema.Struct({ phase: Schema.Literal("anchor"), start: Schema.NullOr(Schema.Number), mark: Schema.Number }),
  Schema.Struct({ phase: Schema.Literal("up"), before: Schema.String, start: Schema.Number, mark: Schema.Number }),
  Schema.Struct({
    phase: Schema.Literal("down"),
    after: Schema.NullOr(Schema.String),
    seen: Schema.Array(Schema.String),
    start: Schema.Number,
    mark: Schema.Number
  })
])
type Cursor = typeof Cursor.Type
const CursorJson = Schema.fromJsonString(Cursor)
const decodeCursor = Schema.decodeUnknownOption(CursorJson)
const encodeCursor = Schema.encodeSync(CursorJson)

interface StripeObject {
  readonly id: string
  readonly object: string
  readonly created?: number
  readonly [key: string]: unknown
}

interface StripeEvent {
  readonly id: string
  readonly type: string
  readonly created: number
  readonly data: { readonly object: Record<string, unknown> }
}

const unix = (date: Date) => Math.floor(date.getTime() / 1000)

/** Stripe's `Date` header: its own clock, so a watermark never depends on ours. */
const clockOf = (list: StripeList) => {
  const header = list.lastResponse?.headers?.date
  const parsed = header === undefined ? Number.NaN : Date.parse(header)
  return Math.floor((Number.isNaN(parsed) ? Date.now() : parsed) / 1000)
}

const newest = (mark: number, objects: ReadonlyArray<{ readonly created?: number }>) =>
  objects.reduce((max, o) => (typeof o.created === "number" && o.created > max ? o.created : max), mark)

/** Stripe's events of one object, oldest first, folded to the newest per object in the order of that newest. */
const latestPerObject = (spec: EntitySpec, events: ReadonlyArray<StripeEvent>): Map<string, ProviderRecord> => {
  const records = new Map<string, ProviderRecord>()
  for (const event of events) {
    const object = event.data.object
    // Wildcards also match events of other objects (`charge.dispute.*`) and objects without an id (`invoice.upcoming`).
    if (object.object !== spec.object || typeof object.id !== "string") continue
    records.delete(object.id)
    records.set(object.id, { externalId: object.id, raw: object, deleted: event.type.endsWith(".deleted") })
  }
  return records
}

/** ProviderDataAdapter for Stripe on the official SDK: a client per page, so no key is held between calls. */
export const makeStripeDataWith = (options: StripeDataOptions): ProviderDataAdapter => {
  const clientFor = (key: string) => stripeClient(options, key)

  const page = Effect.fn("StripeData.page")(function* (request: PageRequest) {
    const { entityType, mode, since } = request
    yield* Effect.annotateCurrentSpan({ provider: "stripe", "sync.entity": entityType, "sync.mode": mode })
    const spec = specs[entityType]
    if (spec === undefined) {
      return yield* new ProviderCallFailed({
        provider: "stripe",
        kind: "rejected",
        status: null,
        retryAfterMillis: null,
        message: `Stripe has no ${entityType} to read`
      })
    }
    if (mode === "incremental" && (since === null || since.getTime() < Date.now() - eventHistoryMillis)) {
      return yield* new HistoryExpired({
        provider: "stripe",
        message:
          since === null
            ? "an incremental Stripe pass needs a since; sync in full"
            : `Stripe keeps events 30 days; ${since.toISOString()} is older`
      })
    }
    const cursor: Cursor | undefined =
      request.cursor === null
        ? mode === "full"
          ? { phase: "objects", after: null, start: null, mark: 0 }
          : { phase: "anchor", start: null, mark: 0 }
        : Option.getOrUndefined(decodeCursor(request.cursor))
    if (cursor === undefined) {
      return yield* new ProviderCallFailed({
        provider: "stripe",
        kind: "rejected",
        status: null,
        retryAfterMillis: null,
        message: "the Stripe page cursor is not one this adapter wrote"
      })
    }
    const client = clientFor(Redacted.value(request.credential.token))
    const call = (params: ListParams, run: (params: ListParams) => Promise<StripeList> = (p) => spec.list(client, p)) =>
      Effect.tryPromise({ try: () => run(params), catch: toProviderCallFailed })
    const events = (params: ListParams) =>
      call(params, (p) => client.events.list(p as Stripe.EventListParams) as Promise<StripeList>)
    const sinceSeconds = since === null ? undefined : unix(since)
    const eventsSince = { ...spec.events, created: { gte: sinceSeconds! } }
    const afterEvents = (start: number, mark: number): Cursor => ({ phase: "objects", after: null, start, mark })

    const answer = (records: ReadonlyArray<ProviderRecord>, next: Cursor | null, start: number, mark: number) =>
      ({
        records,
        nextCursor: next === null ? null : encodeCursor(next),
        total: null,
        watermark: new Date(Math.max(start - clockMarginSeconds, mark) * 1000),
        notes: []
      }) satisfies Page

    /** Events carry objects unexpanded: read the live ones again where the mapping needs an expansion. */
    const current = (records: Map<string, ProviderRecord>) =>
      Effect.gen(function* () {
        const ids = [...records.values()].filter((r) => !r.deleted).map((r) => r.externalId)
        if (spec.reread === undefined || ids.length === 0) return [...records.values()]
        const reread = spec.reread
        const fresh = yield* call({ limit: pageSize, ids }, (p) => reread(client, p.ids!))
        const byId = new Map((fresh.data as ReadonlyArray<StripeObject>).map((o) => [o.id, o]))
        return [...records.values()].map((r) => {
          const found = r.deleted ? undefined : byId.get(r.externalId)
          return found === undefined ? r : { ...r, raw: found }
        })
      })

    switch (cursor.phase) {
      case "objects": {
        const list = yield* call({
          limit: pageSize,
          ...(cursor.after === null ? {} : { starting_after: cursor.after }),
          ...(mode === "incremental" ? { created: { gte: sinceSeconds! } } : {})
        })
        const objects = list.data as ReadonlyArray<StripeObject>
        const start = cursor.start ?? clockOf(list)
        const mark = newest(cursor.mark, objects)
        const last = objects.at(-1)
        return answer(
          objects.map((o) => ({ externalId: o.id, raw: o, deleted: false })),
          list.has_more && last !== undefined ? { phase: "objects", after: last.id, start, mark } : null,
          start,
          mark
        )
      }
      case "anchor": {
        const list = yield* events({ ...spec.events, limit: 1, created: { lt: sinceSeconds! } })
        const start = cursor.start ?? clockOf(list)
        const anchor = (list.data as ReadonlyArray<StripeEvent>)[0]
        const next: Cursor =
          anchor === undefined
            ? { phase: "down", after: null, seen: [], start, mark: cursor.mark }
            : { phase: "up", before: anchor.id, start, mark: cursor.mark }
        const anchored = answer([], next, start, cursor.mark)
        return anchor === undefined
          ? { ...anchored, notes: ["no Stripe event before since to start from: events are read newest first"] }
          : anchored
      }
      case "up": {
        const list = yield* events({ ...eventsSince, limit: pageSize, ending_before: cursor.before })
        const found = list.data as ReadonlyArray<StripeEvent>
        const mark = newest(cursor.mark, found)
        const records = yield* current(latestPerObject(spec, [...found].reverse()))
        const newestEvent = found[0]
        const next: Cursor =
          list.has_more && newestEvent !== undefined
            ? { phase: "up", before: newestEvent.id, start: cursor.start, mark }
            : afterEvents(cursor.start, mark)
        return answer(records, next, cursor.start, mark)
      }
      case "down": {
        const list = yield* events({
          ...eventsSince,
          limit: pageSize,
          ...(cursor.after === null ? {} : { starting_after: cursor.after })
        })
        const found = list.data as ReadonlyArray<StripeEvent>
        const mark = newest(cursor.mark, found)
        const seen = new Set(cursor.seen)
        // Newest first: an object's first event here is its newest, unless an earlier page answered it.
        const fresh = found.filter((e) => {
          const id = e.data.object.id
          if (e.data.object.object !== spec.object || typeof id !== "string" || seen.has(id)) return false
          seen.add(id)
          return true
        })
        const records = yield* current(latestPerObject(spec, fresh))
        const last = found.at(-1)
        const next: Cursor =
          list.has_more && last !== undefined
            ? { phase: "down", after: last.id, seen: [...seen], start: cursor.start, mark }
            : afterEvents(cursor.start, mark)
        return answer(records, next, cursor.start, mark)
      }
    }
  })

  return { provider: "stripe", pageSize: () => pageSize, page }
}

/** Reads STRIPE_API_BASE_URL (optional) and PROVIDER_TIMEOUT (default 30 seconds). */
export const makeStripeData = Effect.gen(function* () {
  return makeStripeDataWith(yield* StripeDataConfig)
})
