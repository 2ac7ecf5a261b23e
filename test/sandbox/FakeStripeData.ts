import { randomBytes } from "node:crypto"

/**
 * The data the sync engine reads from Stripe, on Stripe's wire: the list endpoints of customers, products, payment
 * intents, invoices and charges (`limit` 1–100, `starting_after`/`ending_before`, `created[gte|gt|lte|lt]`, newest
 * first) and `GET /v1/events` (`type` with a `*` wildcard or `types[]`), where changes and deletions show the way
 * Stripe shows them: `<object>.updated`, `<object>.deleted` events carrying the whole object. Seeded records are
 * history older than Stripe's 30-day event log, so they have no events; every later change has one.
 */
export type FakeStripeEntity = "customer" | "product" | "order" | "invoice" | "payment"

export interface FakeStripeInjection {
  /** 429 (with `Retry-After` when `retryAfterSeconds` is set) or a 5xx; absent: only `latencyMs`. */
  readonly status?: number
  readonly retryAfterSeconds?: number
  /** How many data requests it hits; absent: every one until `clearInjections()`. */
  readonly times?: number
  /** Waits this long before answering (a timeout test). */
  readonly latencyMs?: number
}

export interface FakeStripeDataRequest {
  /** Epoch milliseconds. */
  readonly at: number
  readonly path: string
  readonly status: number
}

export interface FakeStripeDataReply {
  readonly status: number
  readonly body: unknown
  readonly headers?: Record<string, string>
}

const objectNames: Record<FakeStripeEntity, string> = {
  customer: "customer",
  product: "product",
  order: "payment_intent",
  invoice: "invoice",
  payment: "charge"
}

const paths: Record<string, FakeStripeEntity> = {
  "/v1/customers": "customer",
  "/v1/products": "product",
  "/v1/payment_intents": "order",
  "/v1/invoices": "invoice",
  "/v1/charges": "payment"
}

const idPrefixes: Record<FakeStripeEntity, string> = {
  customer: "cus",
  product: "prod",
  order: "pi",
  invoice: "in",
  payment: "ch"
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
/** Random suffix once per fake, a counter after it: 100,000 ids without 100,000 calls to randomBytes. */
const salt = Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join("")
let serial = 0
const nextId = (prefix: string) => `${prefix}_${salt}${(serial++).toString(36).padStart(8, "0")}`

const givenNames = ["Ada", "Grace", "Alan", "Maya", "Noor", "Kenji", "Lena", "Omar", "Rosa", "Tariq", "Ines", "Felix"]
const familyNames = ["Lovelace", "Hopper", "Turing", "Angelou", "Haddad", "Sato", "Berg", "Farouk", "Parks", "Silva"]
const shows = ["Hamlet", "The Tempest", "Jazz Night", "Symphony No. 9", "Derby Day", "Swan Lake", "Open Mic", "Carmen"]
const piStatuses = ["succeeded", "succeeded", "succeeded", "requires_payment_method", "processing", "canceled"]

const pick = <A>(list: ReadonlyArray<A>, i: number): A => list[i % list.length]!

/** The API's responses when the record is built; the generators follow the fixtures in test/fixtures/sync/stripe/. */
const generators: Record<
  FakeStripeEntity,
  (i: number, created: number, link: Links, id: string) => Record<string, unknown>
> = {
  customer: (i, created, _link, id) => {
    const name = `${pick(givenNames, i)} ${pick(familyNames, Math.floor(i / givenNames.length))}`
    return {
      id,
      object: "customer",
      address: {
        city: "Springfield",
        country: "US",
        line1: `${100 + (i % 900)} Main St`,
        line2: null,
        postal_code: String(10000 + (i % 89999)),
        state: "IL"
      },
      balance: 0,
      created,
      currency: null,
      default_source: null,
      delinquent: false,
      description: null,
      email: `${name.toLowerCase().replace(" ", ".")}.${i}@example.com`,
      invoice_prefix: salt.slice(0, 4).toUpperCase() + (i % 10_000).toString().padStart(4, "0"),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: {},
      name,
      next_invoice_sequence: 1,
      phone: `+1312555${(i % 10_000).toString().padStart(4, "0")}`,
      preferred_locales: [],
      shipping: null,
      tax_exempt: "none",
      test_clock: null
    }
  },
  product: (i, created, link, id) => {
    const price = link.price(id, 1500 + (i % 20) * 250, created)
    return {
      id,
      object: "product",
      active: true,
      created,
      default_price: price,
      description: `${pick(shows, i)}, performance ${i + 1}`,
      images: [],
      marketing_features: [],
      livemode: false,
      metadata: { starts_at: new Date((created + 86_400 * 60) * 1000).toISOString() },
      name: `${pick(shows, i)} #${i + 1}`,
      package_dimensions: null,
      shippable: null,
      statement_descriptor: null,
      tax_code: null,
      unit_label: "ticket",
      updated: created,
      url: null
    }
  },
  order: (i, created, link, id) => {
    const status = pick(piStatuses, i)
    return {
      id,
      object: "payment_intent",
      amount: 2000 + (i % 40) * 125,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: status === "succeeded" ? 2000 + (i % 40) * 125 : 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: { enabled: true },
      canceled_at: status === "canceled" ? created + 60 : null,
      cancellation_reason: status === "canceled" ? "abandoned" : null,
      capture_method: "automatic",
      client_secret: `${id}_secret_${salt}${i}`,
      confirmation_method: "automatic",
      created,
      currency: "usd",
      customer: link.customer(i),
      description: null,
      invoice: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: {},
      next_action: null,
      on_behalf_of: null,
      payment_method: null,
      payment_method_options: { card: { installments: null, mandate_options: null, network: null } },
      payment_method_types: ["card", "link"],
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status,
      transfer_data: null,
      transfer_group: null
    }
  },
  invoice: (i, created, link, id) => {
    const quantity = 1 + (i % 4)
    const unitAmount = 1500 + (i % 20) * 250
    const status = pick(["paid", "paid", "open", "draft", "void"], i)
    return {
      id,
      object: "invoice",
      account_country: "US",
      account_name: "Riverside Hall",
      amount_due: quantity * unitAmount,
      amount_paid: status === "paid" ? quantity * unitAmount : 0,
      amount_remaining: status === "paid" ? 0 : quantity * unitAmount,
      attempt_count: 0,
      attempted: status !== "draft",
      auto_advance: status === "draft",
      billing_reason: "manual",
      collection_method: "send_invoice",
      created,
      currency: "usd",
      customer: link.customer(i) ?? nextId("cus"),
      customer_email: `guest.${i}@example.com`,
      customer_name: `${pick(givenNames, i)} ${pick(familyNames, i)}`,
      description: null,
      due_date: created + 86_400 * 30,
      lines: {
        object: "list",
        data: [
          {
            id: nextId("il"),
            object: "line_item",
            amount: quantity * unitAmount,
            currency: "usd",
            description: `${quantity} × ${pick(shows, i)}`,
            livemode: false,
            metadata: {},
            price: { id: nextId("price"), object: "price", product: nextId("prod"), unit_amount: unitAmount },
            quantity
          }
        ],
        has_more: false,
        total_count: 1,
        url: `/v1/invoices/${id}/lines`
      },
      livemode: false,
      metadata: {},
      number: status === "draft" ? null : `${salt.slice(0, 4).toUpperCase()}-${(i + 1).toString().padStart(4, "0")}`,
      status,
      subtotal: quantity * unitAmount,
      total: quantity * unitAmount,
      webhooks_delivered_at: created
    }
  },
  payment: (i, created, link, id) => {
    const amount = 2000 + (i % 40) * 125
    const status = pick(["succeeded", "succeeded", "succeeded", "pending", "failed"], i)
    return {
      id,
      object: "charge",
      amount,
      amount_captured: status === "succeeded" ? amount : 0,
      amount_refunded: 0,
      application: null,
      balance_transaction: nextId("txn"),
      billing_details: {
        address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
        email: `guest.${i}@example.com`,
        name: `${pick(givenNames, i)} ${pick(familyNames, i)}`,
        phone: null
      },
      calculated_statement_descriptor: "RIVERSIDE HALL",
      captured: status === "succeeded",
      created,
      currency: "usd",
      customer: link.customer(i),
      description: null,
      disputed: false,
      failure_code: status === "failed" ? "card_declined" : null,
      failure_message: status === "failed" ? "Your card was declined." : null,
      livemode: false,
      metadata: {},
      outcome: { network_status: "approved_by_network", reason: null, risk_level: "normal", type: "authorized" },
      paid: status === "succeeded",
      payment_intent: nextId("pi"),
      payment_method: nextId("pm"),
      payment_method_details: {
        card: { brand: "visa", country: "US", exp_month: 3, exp_year: 2030, funding: "credit", last4: "4242" },
        type: "card"
      },
      receipt_email: null,
      receipt_url: null,
      refunded: false,
      status
    }
  }
}

interface Links {
  /** A price of the product, stored for `expand[]=data.default_price`; answers its id. */
  readonly price: (product: string, unitAmount: number, created: number) => string
  /** An existing customer of the account for a record to point at, or null. */
  readonly customer: (i: number) => string | null
}

/** A seeded row builds its object on first read, so seeding 100,000 rows costs ids and timestamps only. */
interface Row {
  readonly seq: number
  readonly id: string
  readonly created: number
  object: Record<string, unknown> | undefined
  readonly make: (() => Record<string, unknown>) | undefined
  deleted: boolean
}

const objectOf = (row: Row): Record<string, unknown> => {
  row.object ??= row.make!()
  return row.object
}

/** One account's objects of one type, oldest first (Stripe lists them newest first); deleted rows stay as anchors. */
interface Table {
  rows: Array<Row>
  index: Map<string, number>
  sorted: boolean
}

interface Account {
  readonly tables: Map<FakeStripeEntity, Table>
  readonly prices: Map<string, Record<string, unknown>>
  /** Oldest first; `created` never goes back, since the clock only moves forward. */
  readonly events: Table
  readonly requests: Array<FakeStripeDataRequest>
  limit: { readonly limit: number; readonly windowMs: number } | null
}

const rateLimitBody = {
  error: {
    type: "invalid_request_error",
    code: "rate_limit",
    message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    doc_url: "https://stripe.com/docs/error-codes/rate-limit"
  }
}

const serverErrorBody = {
  error: { type: "api_error", message: "An unknown error occurred. Please try again later or contact support." }
}

const invalid = (message: string, param?: string): FakeStripeDataReply => ({
  status: 400,
  body: { error: { type: "invalid_request_error", message, ...(param === undefined ? {} : { param }) } }
})

const noSuch = (what: string, id: string): FakeStripeDataReply => ({
  status: 404,
  body: {
    error: {
      type: "invalid_request_error",
      code: "resource_missing",
      param: "id",
      message: `No such ${what}: '${id}'`,
      doc_url: "https://stripe.com/docs/error-codes/resource-missing"
    }
  }
})

/** `name[0]=a&name[1]=b` (the SDK's encoding) or `name[]=a`. */
const listParam = (query: URLSearchParams, name: string): Array<string> | undefined => {
  const values: Array<string> = []
  for (const [key, value] of query) if (key === name || new RegExp(`^${name}\\[\\d*\\]$`).test(key)) values.push(value)
  return values.length === 0 ? undefined : values
}

const createdRange = (query: URLSearchParams): ((created: number) => boolean) | FakeStripeDataReply => {
  const bounds: Array<[string, (a: number, b: number) => boolean]> = [
    ["gte", (a, b) => a >= b],
    ["gt", (a, b) => a > b],
    ["lte", (a, b) => a <= b],
    ["lt", (a, b) => a < b]
  ]
  const checks: Array<(created: number) => boolean> = []
  const exact = query.get("created")
  if (exact !== null) checks.push((c) => c === Number(exact))
  for (const [op, test] of bounds) {
    const raw = query.get(`created[${op}]`)
    if (raw === null) continue
    const bound = Number(raw)
    if (!Number.isInteger(bound)) return invalid(`Invalid integer: ${raw}`, `created[${op}]`)
    checks.push((c) => test(c, bound))
  }
  return (created) => checks.every((check) => check(created))
}

const byCreated = (a: Row, b: Row) => a.created - b.created || a.seq - b.seq

const newTable = (): Table => ({ rows: [], index: new Map(), sorted: true })

export const fakeStripeData = (now: () => number) => {
  const accounts = new Map<string, Account>()
  let injections: Array<{ injection: FakeStripeInjection; left: number }> = []
  let seq = 0

  const account = (accountId: string): Account => {
    let found = accounts.get(accountId)
    if (!found) {
      found = { tables: new Map(), prices: new Map(), events: newTable(), requests: [], limit: null }
      accounts.set(accountId, found)
    }
    return found
  }

  const table = (accountId: string, entity: FakeStripeEntity): Table => {
    const tables = account(accountId).tables
    let found = tables.get(entity)
    if (!found) {
      found = newTable()
      tables.set(entity, found)
    }
    return found
  }

  const ordered = (t: Table): Table => {
    if (!t.sorted) {
      t.rows.sort(byCreated)
      t.index = new Map(t.rows.map((row, i) => [row.id, i]))
      t.sorted = true
    }
    return t
  }

  const append = (
    t: Table,
    row: Pick<Row, "id" | "created"> & { readonly object?: Record<string, unknown>; readonly make?: Row["make"] }
  ) => {
    const last = t.rows.at(-1)
    if (last && last.created > row.created) t.sorted = false
    t.index.set(row.id, t.rows.length)
    t.rows.push({ seq: seq++, id: row.id, created: row.created, object: row.object, make: row.make, deleted: false })
  }
  const appendObject = (t: Table, object: Record<string, unknown>) =>
    append(t, { id: object.id as string, created: object.created as number, object })

  const links = (accountId: string): Links => ({
    price: (product, unitAmount, created) => {
      const id = nextId("price")
      account(accountId).prices.set(id, {
        id,
        object: "price",
        active: true,
        billing_scheme: "per_unit",
        created,
        currency: "usd",
        custom_unit_amount: null,
        livemode: false,
        lookup_key: null,
        metadata: {},
        nickname: null,
        product,
        recurring: null,
        tax_behavior: "unspecified",
        tiers_mode: null,
        transform_quantity: null,
        type: "one_time",
        unit_amount: unitAmount,
        unit_amount_decimal: String(unitAmount)
      })
      return id
    },
    customer: (i) => {
      const rows = table(accountId, "customer").rows
      return rows.length === 0 ? null : rows[i % rows.length]!.id
    }
  })

  const emit = (accountId: string, type: string, object: Record<string, unknown>, previous?: object) =>
    appendObject(account(accountId).events, {
      id: nextId("evt"),
      object: "event",
      api_version: "2026-10-28.endive",
      created: now(),
      data: {
        object: structuredClone(object),
        ...(previous === undefined ? {} : { previous_attributes: previous })
      },
      livemode: false,
      pending_webhooks: 0,
      request: { id: nextId("req"), idempotency_key: null },
      type
    })

  /** Stripe's event for a change: PaymentIntents have no `.updated`, their status names the event. */
  const changeEvent = (entity: FakeStripeEntity, object: Record<string, unknown>, creating: boolean) => {
    const name = objectNames[entity]
    if (entity === "order") return creating ? `${name}.created` : `${name}.${statusEvent(object.status)}`
    if (entity === "payment") return creating ? `${name}.${object.status}` : `${name}.updated`
    return `${name}.${creating ? "created" : "updated"}`
  }

  const statusEvent = (status: unknown) =>
    status === "succeeded"
      ? "succeeded"
      : status === "canceled"
        ? "canceled"
        : status === "processing"
          ? "processing"
          : status === "requires_action"
            ? "requires_action"
            : "payment_failed"

  const live = (t: Table) => t.rows.filter((row) => !row.deleted).map(objectOf)

  const controls = {
    /** Generates `count` records created one second apart, ending 45 days ago (before the event log keeps). */
    seed: (accountId: string, entity: FakeStripeEntity, count: number): void => {
      const t = table(accountId, entity)
      const link = links(accountId)
      const start = now() - 86_400 * 45 - count
      const make = generators[entity]
      for (let i = 0; i < count; i++) {
        const id = nextId(idPrefixes[entity])
        const n = t.rows.length
        const created = start + i
        append(t, { id, created, make: () => make(n, created, link, id) })
      }
    },
    /** Creates (no `id`, or an unknown one) or updates (merges `fields` into) a record; the change has its event. */
    upsertRecord: (
      accountId: string,
      entity: FakeStripeEntity,
      fields: Record<string, unknown> = {}
    ): Record<string, unknown> => {
      const t = ordered(table(accountId, entity))
      const at = typeof fields.id === "string" ? t.index.get(fields.id) : undefined
      const row = at === undefined ? undefined : t.rows[at]
      if (row && !row.deleted) {
        const before = objectOf(row)
        const previous = Object.fromEntries(Object.keys(fields).map((k) => [k, before[k] ?? null]))
        const after = { ...before, ...fields, ...(entity === "product" ? { updated: now() } : {}) }
        row.object = after
        emit(accountId, changeEvent(entity, after, false), after, previous)
        return after
      }
      const id = typeof fields.id === "string" ? fields.id : nextId(idPrefixes[entity])
      const created = { ...generators[entity](t.rows.length, now(), links(accountId), id), ...fields }
      if (entity === "product") created.updated = created.created
      appendObject(t, created)
      emit(accountId, changeEvent(entity, created, true), created)
      return created
    },
    /** Deletes a customer, product or (draft) invoice: gone from lists, a `<object>.deleted` event with the object. */
    deleteRecord: (accountId: string, entity: FakeStripeEntity, id: string): void => {
      if (entity === "order" || entity === "payment") throw new Error(`Stripe cannot delete a ${objectNames[entity]}`)
      const t = ordered(table(accountId, entity))
      const at = t.index.get(id)
      const row = at === undefined ? undefined : t.rows[at]
      if (!row || row.deleted) throw new Error(`no live ${entity} ${id}`)
      row.deleted = true
      emit(accountId, `${objectNames[entity]}.deleted`, objectOf(row))
    },
    /** The live records, newest first (Stripe's list order), as the list endpoints answer them (unexpanded). */
    records: (accountId: string, entity: FakeStripeEntity): ReadonlyArray<Record<string, unknown>> =>
      live(ordered(table(accountId, entity))).reverse(),
    /** The account's events, newest first. */
    events: (accountId: string): ReadonlyArray<Record<string, unknown>> => live(account(accountId).events).reverse(),
    inject: (injection: FakeStripeInjection): void => {
      injections.push({ injection, left: injection.times ?? Number.POSITIVE_INFINITY })
    },
    clearInjections: (): void => {
      injections = []
    },
    /** Every data request of the account (lists and events), whatever it answered. */
    dataRequests: (accountId: string): ReadonlyArray<FakeStripeDataRequest> => [...account(accountId).requests],
    /** Answers 429 with Retry-After above `limit` admitted data requests per sliding `windowMs`; null lifts it. */
    setRateLimit: (accountId: string, limit: { readonly limit: number; readonly windowMs: number } | null): void => {
      account(accountId).limit = limit
    }
  }

  const page = (
    t: Table,
    query: URLSearchParams,
    path: string,
    match: (row: Row) => boolean,
    what: string
  ): FakeStripeDataReply => {
    const rawLimit = query.get("limit")
    const limit = rawLimit === null ? 10 : Number(rawLimit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return invalid(`Invalid limit: must be an integer between 1 and 100, got ${JSON.stringify(rawLimit)}.`, "limit")
    }
    const after = query.get("starting_after")
    const before = query.get("ending_before")
    if (after && before) return invalid("You may only specify one of these parameters: ending_before, starting_after.")
    const anchor = after ?? before
    const at = anchor ? t.index.get(anchor) : undefined
    if (anchor && at === undefined) return noSuch(what, anchor)
    const found: Array<Record<string, unknown>> = []
    if (before) {
      for (let i = at! + 1; i < t.rows.length && found.length <= limit; i++) {
        const row = t.rows[i]!
        if (!row.deleted && match(row)) found.push(objectOf(row))
      }
    } else {
      for (let i = at === undefined ? t.rows.length - 1 : at - 1; i >= 0 && found.length <= limit; i--) {
        const row = t.rows[i]!
        if (!row.deleted && match(row)) found.push(objectOf(row))
      }
    }
    const data = found.slice(0, limit)
    return {
      status: 200,
      body: { object: "list", data: before ? data.reverse() : data, has_more: found.length > limit, url: path }
    }
  }

  const expanded = (accountId: string, expand: ReadonlyArray<string>) => (object: Record<string, unknown>) =>
    expand.includes("data.default_price") && typeof object.default_price === "string"
      ? { ...object, default_price: account(accountId).prices.get(object.default_price) ?? object.default_price }
      : object

  const listObjects = (accountId: string, entity: FakeStripeEntity, path: string, query: URLSearchParams) => {
    const range = createdRange(query)
    if (typeof range !== "function") return range
    const expand = listParam(query, "expand") ?? []
    const unknown = expand.find((e) => !(entity === "product" && e === "data.default_price"))
    if (unknown !== undefined) return invalid(`This property cannot be expanded (${unknown}).`, "expand")
    const t = ordered(table(accountId, entity))
    const ids = entity === "product" ? listParam(query, "ids") : undefined
    const wanted = ids === undefined ? undefined : new Set(ids)
    const reply = page(
      t,
      query,
      path,
      (row) => range(row.created) && (wanted === undefined || wanted.has(row.id)),
      objectNames[entity]
    )
    if (reply.status !== 200 || expand.length === 0) return reply
    const body = reply.body as { data: Array<Record<string, unknown>> }
    return { ...reply, body: { ...body, data: body.data.map(expanded(accountId, expand)) } }
  }

  const listEvents = (accountId: string, query: URLSearchParams) => {
    const range = createdRange(query)
    if (typeof range !== "function") return range
    const type = query.get("type")
    const types = listParam(query, "types")
    if (type !== null && types !== undefined) return invalid("You may pass either `type` or `types`, but not both.")
    if (types !== undefined && types.length > 20) return invalid("You may pass at most 20 `types`.", "types")
    const exact = types === undefined ? undefined : new Set(types)
    const prefix = type?.endsWith("*") ? type.slice(0, -1) : undefined
    const matchesType = (t: string) =>
      exact !== undefined ? exact.has(t) : prefix !== undefined ? t.startsWith(prefix) : type === null || t === type
    return page(
      account(accountId).events,
      query,
      "/v1/events",
      (row) => range(row.created) && matchesType(objectOf(row).type as string),
      "event"
    )
  }

  const route = (accountId: string, method: string, url: URL): FakeStripeDataReply | undefined => {
    if (method !== "GET") return undefined
    if (url.pathname === "/v1/events") return listEvents(accountId, url.searchParams)
    const entity = paths[url.pathname]
    if (entity) return listObjects(accountId, entity, url.pathname, url.searchParams)
    const [, base, id] = /^(\/v1\/[a-z_]+)\/([^/]+)$/.exec(url.pathname) ?? []
    const single = base === undefined ? undefined : paths[base]
    if (single === undefined || id === undefined) return undefined
    const t = ordered(table(accountId, single))
    const at = t.index.get(id)
    const row = at === undefined ? undefined : t.rows[at]
    // A deleted customer still answers, as Stripe's `{id, object, deleted: true}`.
    if (row?.deleted && single === "customer") return { status: 200, body: { id, object: "customer", deleted: true } }
    return row && !row.deleted ? { status: 200, body: objectOf(row) } : noSuch(objectNames[single], id)
  }

  /** Whether a request is one of the data reads this module answers (the caller has authenticated it). */
  const serves = (method: string, url: URL) =>
    method === "GET" &&
    (url.pathname === "/v1/events" ||
      /^\/v1\/(customers|products|payment_intents|invoices|charges)(\/[^/]+)?$/.test(url.pathname))

  /** Answers a data read after the injected failures and the account's rate limit; undefined: not a data read. */
  const handle = async (accountId: string, method: string, url: URL): Promise<FakeStripeDataReply | undefined> => {
    if (!serves(method, url)) return undefined
    const { requests, limit } = account(accountId)
    const at = Date.now()
    // Logged on arrival, so a request still waiting on injected latency is counted in its window.
    const entry = { at, path: url.pathname, status: 0 }
    requests.push(entry)
    const answer = (reply: FakeStripeDataReply) => {
      entry.status = reply.status
      return reply
    }
    const current = injections.find((i) => i.left > 0)
    if (current) {
      current.left -= 1
      const { status, retryAfterSeconds, latencyMs } = current.injection
      if (latencyMs !== undefined) await new Promise((resolve) => setTimeout(resolve, latencyMs))
      if (status === 429) {
        const headers: Record<string, string> =
          retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) }
        return answer({ status, body: rateLimitBody, headers })
      }
      if (status !== undefined) return answer({ status, body: serverErrorBody })
    }
    if (limit) {
      const admitted = requests.filter((r) => r !== entry && r.status !== 429 && r.at > at - limit.windowMs)
      if (admitted.length >= limit.limit) {
        const wait = Math.max(1, Math.ceil((admitted[admitted.length - limit.limit]!.at + limit.windowMs - at) / 1000))
        return answer({ status: 429, body: rateLimitBody, headers: { "retry-after": String(wait) } })
      }
    }
    return answer(route(accountId, method, url)!)
  }

  return {
    handle,
    controls,
    /** The store behind the older `addCustomer` and `POST /v1/customers` of FakeStripe. */
    createCustomer: (accountId: string, fields: Record<string, unknown>) =>
      controls.upsertRecord(accountId, "customer", fields),
    findCustomer: (accountId: string, id: string) => route(accountId, "GET", new URL(`http://x/v1/customers/${id}`))
  }
}

export type FakeStripeDataControls = ReturnType<typeof fakeStripeData>["controls"]
