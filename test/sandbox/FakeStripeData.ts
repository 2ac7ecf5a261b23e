import { randomBytes } from "node:crypto"
import { exponentOf } from "../../domain/canonical/Money.ts"

/**
 * The data the sync engine reads from Stripe, on Stripe's wire: the list endpoints of customers, products, payment
 * intents, invoices and charges (`limit` 1–100, `starting_after`/`ending_before`, `created[gte|gt|lte|lt]`, newest
 * first) and `GET /v1/events` (`type` with a `*` wildcard or `types[]`), where changes and deletions show the way
 * Stripe shows them: `<object>.updated`, `<object>.deleted` events carrying the whole object. Seeded records are
 * history older than Stripe's 30-day event log, so they have no events; every later change has one.
 *
 * And what the sync engine writes: customers (create, update, delete), products (create with `default_price_data`,
 * update, `active=false`) and prices (create, `active=false`; immutable otherwise), with Stripe's parameter checks,
 * its refusals (an unknown parameter, a bad email, archiving a product's default price) and its idempotency: a POST
 * repeated with the same `Idempotency-Key` and the same parameters gets the first answer again
 * (`Idempotent-Replayed: true`) and creates nothing; with other parameters, a 400 `idempotency_error`. Keys are the
 * account's. Writes count against the account's rate limit and take injected failures like reads.
 */
export type FakeStripeEntity = "customer" | "product" | "order" | "invoice" | "payment"

/** What a write creates, as `creations` counts it. */
export type FakeStripeWritten = "customer" | "product" | "price"

export interface FakeStripeInjection {
  /** 429 (with `Retry-After` when `retryAfterSeconds` is set) or a 5xx; absent: only `latencyMs`. */
  readonly status?: number
  readonly retryAfterSeconds?: number
  /** How many data requests (reads and writes) it hits; absent: every one until `clearInjections()`. */
  readonly times?: number
  /** Waits this long before answering (a timeout test). */
  readonly latencyMs?: number
}

export interface FakeStripeDataRequest {
  /** Epoch milliseconds. */
  readonly at: number
  readonly method: string
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

/** A customer as `POST /v1/customers` makes it before its parameters apply. */
const blankCustomer = (id: string, created: number, invoicePrefix: string): Record<string, unknown> => ({
  id,
  object: "customer",
  address: null,
  balance: 0,
  created,
  currency: null,
  default_source: null,
  delinquent: false,
  description: null,
  email: null,
  invoice_prefix: invoicePrefix,
  invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
  livemode: false,
  metadata: {},
  name: null,
  next_invoice_sequence: 1,
  phone: null,
  preferred_locales: [],
  shipping: null,
  tax_exempt: "none",
  test_clock: null
})

/** A product as `POST /v1/products` makes it before its parameters apply. */
const blankProduct = (id: string, created: number, name: string): Record<string, unknown> => ({
  id,
  object: "product",
  active: true,
  created,
  default_price: null,
  description: null,
  images: [],
  marketing_features: [],
  livemode: false,
  metadata: {},
  name,
  package_dimensions: null,
  shippable: null,
  statement_descriptor: null,
  tax_code: null,
  unit_label: null,
  updated: created,
  url: null
})

/** A one-time price of a product (prices are immutable but for `active`, `metadata`, `nickname`, `lookup_key`). */
const priceObject = (id: string, product: string, unitAmount: number, currency: string, created: number) => ({
  id,
  object: "price",
  active: true,
  billing_scheme: "per_unit",
  created,
  currency,
  custom_unit_amount: null,
  livemode: false,
  lookup_key: null,
  metadata: {} as Record<string, string>,
  nickname: null as string | null,
  product,
  recurring: null,
  tax_behavior: "unspecified",
  tiers_mode: null,
  transform_quantity: null,
  type: "one_time",
  unit_amount: unitAmount,
  unit_amount_decimal: String(unitAmount)
})

/** The API's responses when the record is built; the generators follow the fixtures in test/fixtures/sync/stripe/. */
const generators: Record<
  FakeStripeEntity,
  (i: number, created: number, link: Links, id: string) => Record<string, unknown>
> = {
  customer: (i, created, _link, id) => {
    const name = `${pick(givenNames, i)} ${pick(familyNames, Math.floor(i / givenNames.length))}`
    return {
      ...blankCustomer(id, created, salt.slice(0, 4).toUpperCase() + (i % 10_000).toString().padStart(4, "0")),
      address: {
        city: "Springfield",
        country: "US",
        line1: `${100 + (i % 900)} Main St`,
        line2: null,
        postal_code: String(10000 + (i % 89999)),
        state: "IL"
      },
      email: `${name.toLowerCase().replace(" ", ".")}.${i}@example.com`,
      name,
      phone: `+1312555${(i % 10_000).toString().padStart(4, "0")}`
    }
  },
  product: (i, created, link, id) => {
    const price = link.price(id, 1500 + (i % 20) * 250, created)
    return {
      ...blankProduct(id, created, `${pick(shows, i)} #${i + 1}`),
      default_price: price,
      description: `${pick(shows, i)}, performance ${i + 1}`,
      metadata: { starts_at: new Date((created + 86_400 * 60) * 1000).toISOString() },
      unit_label: "ticket"
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

interface StoredReply {
  /** Method, path and the parameters in a canonical order: what "the same request" means. */
  readonly fingerprint: string
  readonly reply: FakeStripeDataReply
}

interface Account {
  readonly tables: Map<FakeStripeEntity, Table>
  readonly prices: Map<string, Record<string, unknown>>
  /** Oldest first; `created` never goes back, since the clock only moves forward. */
  readonly events: Table
  readonly requests: Array<FakeStripeDataRequest>
  limit: { readonly limit: number; readonly windowMs: number } | null
  /** The first request that can still be in the rate-limit window (requests are logged in arrival order). */
  windowStart: number
  /** First answers by Idempotency-Key. */
  readonly idempotency: Map<string, StoredReply>
  readonly creations: Record<FakeStripeWritten, number>
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

const invalid = (message: string, param?: string, code?: string): FakeStripeDataReply => ({
  status: 400,
  body: {
    error: {
      type: "invalid_request_error",
      ...(code === undefined
        ? {}
        : { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}` }),
      message,
      ...(param === undefined ? {} : { param })
    }
  }
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

/** A refusal of a write's parameters, thrown from deep in a handler and answered as it is. */
class Refused {
  readonly reply: FakeStripeDataReply
  constructor(reply: FakeStripeDataReply) {
    this.reply = reply
  }
}
const refuse = (message: string, param?: string, code?: string): never => {
  throw new Refused(invalid(message, param, code))
}

/** Form parameters as FakeStripe decodes them: strings, arrays and nested objects. */
type Form = Record<string, unknown>

/** The parameters an endpoint takes: `true` for a value or a free-form hash (metadata), else the hash's own keys. */
type Accepted = Readonly<Record<string, true | ReadonlyArray<string>>>

const isForm = (value: unknown): value is Form => typeof value === "object" && value !== null && !Array.isArray(value)

/** Stripe names the first parameter it does not know. */
const checkParams = (form: Form, accepted: Accepted) => {
  for (const [key, value] of Object.entries(form)) {
    const spec = accepted[key]
    if (spec === undefined) refuse(`Received unknown parameter: ${key}`, key, "parameter_unknown")
    if (Array.isArray(spec) && isForm(value)) {
      const unknown = Object.keys(value).find((k) => !spec.includes(k))
      if (unknown !== undefined)
        refuse(`Received unknown parameter: ${key}[${unknown}]`, `${key}[${unknown}]`, "parameter_unknown")
    }
  }
}

const missing = (param: string): never => refuse(`Missing required param: ${param}.`, param, "parameter_missing")

/** A string parameter: undefined when absent, null when sent empty (Stripe's "unset"). */
const textParam = (value: unknown, param: string): string | null | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "string") return refuse(`Invalid string: ${JSON.stringify(value)}`, param)
  return value === "" ? null : value
}

/** A string that cannot be unset, in Stripe's words. */
const requiredText = (value: unknown, param: string): string | undefined => {
  const text = textParam(value, param)
  if (text === null)
    refuse(
      `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
      param
    )
  return text ?? undefined
}

const booleanParam = (value: unknown, param: string): boolean | undefined => {
  if (value === undefined) return undefined
  if (value === "true") return true
  if (value === "false") return false
  return refuse(`Invalid boolean: ${String(value)}`, param)
}

const amountParam = (value: unknown, param: string): number => {
  if (value === undefined || value === "") return missing(param)
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) return refuse(`Invalid integer: ${String(value)}`, param)
  const amount = Number(value)
  return amount < 0 ? refuse("This value must be greater than or equal to 0.", param) : amount
}

const currencyParam = (value: unknown, param: string): string => {
  if (value === undefined || value === "") return missing(param)
  const code = String(value).toLowerCase()
  return /^[a-z]{3}$/.test(code) && exponentOf(code) !== undefined
    ? code
    : refuse(`Invalid currency: ${String(value)}.`, param)
}

/** Stripe's metadata rules: at most 50 keys, keys ≤ 40 and values ≤ 500 characters; an empty value removes a key. */
const metadataParam = (current: unknown, value: unknown): Record<string, string> => {
  const base = isForm(current) ? (current as Record<string, string>) : {}
  if (value === undefined) return base
  if (value === "") return {}
  if (!isForm(value)) return refuse("Invalid hash", "metadata")
  const next = { ...base }
  for (const [key, raw] of Object.entries(value)) {
    const param = `metadata[${key}]`
    if (typeof raw !== "string") return refuse(`Invalid string: ${JSON.stringify(raw)}`, param)
    if (key.length > 40)
      refuse(
        `Metadata keys can have up to 40 characters, but you passed in a key that is ${key.length} characters. Invalid key: ${key}`,
        param
      )
    if (raw.length > 500)
      refuse(
        `Metadata values can have up to 500 characters, but you passed in a value that is ${raw.length} characters. Invalid value: ${raw}`,
        param
      )
    if (raw === "") delete next[key]
    else next[key] = raw
  }
  if (Object.keys(next).length > 50) refuse("You can have up to 50 metadata keys.", "metadata")
  return next
}

const addressKeys = ["city", "country", "line1", "line2", "postal_code", "state"] as const

/** An address hash replaces the whole address; keys it leaves out are null. */
const addressParam = (value: unknown): Record<string, string | null> | null | undefined => {
  if (value === undefined) return undefined
  if (value === "") return null
  if (!isForm(value)) return refuse("Invalid hash", "address")
  return Object.fromEntries(addressKeys.map((k) => [k, textParam(value[k], `address[${k}]`) ?? null]))
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

const customerParams: Accepted = {
  address: addressKeys,
  description: true,
  email: true,
  expand: true,
  metadata: true,
  name: true,
  phone: true,
  preferred_locales: true,
  tax_exempt: true
}

/** The customer after a create's or an update's parameters. */
const appliedCustomer = (before: Record<string, unknown>, form: Form): Record<string, unknown> => {
  checkParams(form, customerParams)
  const after = { ...before }
  for (const key of ["description", "name", "phone"] as const) {
    const value = textParam(form[key], key)
    if (value !== undefined) after[key] = value
  }
  const email = textParam(form.email, "email")
  if (email !== undefined) {
    if (email !== null && (email.length > 512 || !emailPattern.test(email)))
      refuse(`Invalid email address: ${email}`, "email", "email_invalid")
    after.email = email
  }
  const address = addressParam(form.address)
  if (address !== undefined) after.address = address
  after.metadata = metadataParam(before.metadata, form.metadata)
  if (form.preferred_locales !== undefined)
    after.preferred_locales = Array.isArray(form.preferred_locales) ? form.preferred_locales.map(String) : []
  if (form.tax_exempt !== undefined) {
    if (!["none", "exempt", "reverse"].includes(String(form.tax_exempt)))
      refuse(`Invalid tax_exempt: must be one of none, exempt, or reverse`, "tax_exempt")
    after.tax_exempt = form.tax_exempt
  }
  return after
}

const productParams: Accepted = {
  active: true,
  description: true,
  expand: true,
  images: true,
  metadata: true,
  name: true,
  statement_descriptor: true,
  unit_label: true,
  url: true
}
/** A create also takes its id and its first price; an update points at another price of the product. */
const productCreateParams: Accepted = {
  ...productParams,
  id: true,
  default_price_data: ["currency", "unit_amount", "tax_behavior"]
}
const productUpdateParams: Accepted = { ...productParams, default_price: true }

/** The product after a create's or an update's own parameters (the default price is the caller's). */
const appliedProduct = (before: Record<string, unknown>, form: Form, now: number): Record<string, unknown> => {
  const after: Record<string, unknown> = { ...before, updated: now }
  const name = requiredText(form.name, "name")
  if (name !== undefined) after.name = name
  for (const key of ["description", "statement_descriptor", "unit_label", "url"] as const) {
    const value = textParam(form[key], key)
    if (value !== undefined) after[key] = value
  }
  const active = booleanParam(form.active, "active")
  if (active !== undefined) after.active = active
  if (form.images !== undefined) after.images = Array.isArray(form.images) ? form.images.map(String) : []
  after.metadata = metadataParam(before.metadata, form.metadata)
  return after
}

const priceCreateParams: Accepted = {
  active: true,
  currency: true,
  expand: true,
  lookup_key: true,
  metadata: true,
  nickname: true,
  product: true,
  tax_behavior: true,
  unit_amount: true
}
/** What a price lets change: everything else (its amount, its currency) is fixed at creation. */
const priceUpdateParams: Accepted = { active: true, expand: true, lookup_key: true, metadata: true, nickname: true }

const expandParam = (form: Form, allowed: ReadonlyArray<string>): ReadonlyArray<string> => {
  const expand = Array.isArray(form.expand)
    ? form.expand.map(String)
    : form.expand === undefined
      ? []
      : [String(form.expand)]
  const unknown = expand.find((e) => !allowed.includes(e))
  if (unknown !== undefined) refuse(`This property cannot be expanded (${unknown}).`, "expand")
  return expand
}

/** The same parameters in any order are the same request: keys sorted at every level. */
const canonical = (value: unknown): string =>
  isForm(value)
    ? `{${Object.keys(value)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
        .join(",")}}`
    : Array.isArray(value)
      ? `[${value.map(canonical).join(",")}]`
      : JSON.stringify(value)

const idempotencyMismatch = (key: string): FakeStripeDataReply => ({
  status: 400,
  body: {
    error: {
      type: "idempotency_error",
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`
    }
  }
})

export const fakeStripeData = (now: () => number) => {
  const accounts = new Map<string, Account>()
  let injections: Array<{ injection: FakeStripeInjection; left: number }> = []
  let seq = 0

  const account = (accountId: string): Account => {
    let found = accounts.get(accountId)
    if (!found) {
      found = {
        tables: new Map(),
        prices: new Map(),
        events: newTable(),
        requests: [],
        limit: null,
        windowStart: 0,
        idempotency: new Map(),
        creations: { customer: 0, product: 0, price: 0 }
      }
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
      account(accountId).prices.set(id, priceObject(id, product, unitAmount, "usd", created))
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

  const liveRow = (accountId: string, entity: FakeStripeEntity, id: string): Row | undefined => {
    const t = ordered(table(accountId, entity))
    const at = t.index.get(id)
    const row = at === undefined ? undefined : t.rows[at]
    return row && !row.deleted ? row : undefined
  }

  /** A new object of the account, with its `<object>.created` event. */
  const insert = (accountId: string, entity: FakeStripeEntity, object: Record<string, unknown>) => {
    appendObject(table(accountId, entity), object)
    emit(accountId, changeEvent(entity, object, true), object)
  }

  /** The object's new state, with its event; `previous` defaults to the top-level fields that changed. */
  const replace = (
    accountId: string,
    entity: FakeStripeEntity,
    row: Row,
    after: Record<string, unknown>,
    previous?: Record<string, unknown>
  ) => {
    const before = objectOf(row)
    row.object = after
    const changed =
      previous ??
      Object.fromEntries(
        Object.keys(after)
          .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
          .map((k) => [k, before[k] ?? null])
      )
    emit(accountId, changeEvent(entity, after, false), after, changed)
  }

  const priceEvent = (accountId: string, price: Record<string, unknown>, previous?: Record<string, unknown>) =>
    emit(accountId, previous === undefined ? "price.created" : "price.updated", price, previous)

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
      const row = typeof fields.id === "string" ? liveRow(accountId, entity, fields.id) : undefined
      if (row) {
        const before = objectOf(row)
        const previous = Object.fromEntries(Object.keys(fields).map((k) => [k, before[k] ?? null]))
        const after = { ...before, ...fields, ...(entity === "product" ? { updated: now() } : {}) }
        replace(accountId, entity, row, after, previous)
        return after
      }
      const id = typeof fields.id === "string" ? fields.id : nextId(idPrefixes[entity])
      const t = table(accountId, entity)
      const created = { ...generators[entity](t.rows.length, now(), links(accountId), id), ...fields }
      if (entity === "product") created.updated = created.created
      insert(accountId, entity, created)
      return created
    },
    /** Deletes a customer, product or (draft) invoice: gone from lists, a `<object>.deleted` event with the object. */
    deleteRecord: (accountId: string, entity: FakeStripeEntity, id: string): void => {
      if (entity === "order" || entity === "payment") throw new Error(`Stripe cannot delete a ${objectNames[entity]}`)
      const row = liveRow(accountId, entity, id)
      if (!row) throw new Error(`no live ${entity} ${id}`)
      remove(accountId, entity, row)
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
    /** Every data request of the account (lists, events and writes), whatever it answered. */
    dataRequests: (accountId: string): ReadonlyArray<FakeStripeDataRequest> => [...account(accountId).requests],
    /** Answers 429 with Retry-After above `limit` admitted data requests per sliding `windowMs`; null lifts it. */
    setRateLimit: (accountId: string, limit: { readonly limit: number; readonly windowMs: number } | null): void => {
      const found = account(accountId)
      found.limit = limit
      found.windowStart = 0
    },
    /** How many objects of the type the account's API writes created (replays and seeds create none). */
    creations: (accountId: string, type: FakeStripeWritten): number => account(accountId).creations[type],
    /** The live products, newest first, each with its default price expanded (as `expand[]=data.default_price`). */
    products: (accountId: string): ReadonlyArray<Record<string, unknown>> =>
      live(ordered(table(accountId, "product")))
        .reverse()
        .map(expanded(accountId, ["data.default_price"])),
    /** Every price of the account, archived ones too (`active: false`), oldest first; of one product if given. */
    prices: (accountId: string, product?: string): ReadonlyArray<Record<string, unknown>> =>
      [...account(accountId).prices.values()].filter((p) => product === undefined || p.product === product)
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

  const ok = (body: unknown): FakeStripeDataReply => ({ status: 200, body })

  /** The product as answered: its default price expanded when the request asks (`expand[]=default_price`). */
  const productReply = (accountId: string, product: Record<string, unknown>, expand: ReadonlyArray<string>) =>
    ok(expand.includes("default_price") ? expanded(accountId, ["data.default_price"])(product) : product)

  const read = (accountId: string, url: URL): FakeStripeDataReply => {
    if (url.pathname === "/v1/events") return listEvents(accountId, url.searchParams)
    const entity = paths[url.pathname]
    if (entity) return listObjects(accountId, entity, url.pathname, url.searchParams)
    const [, base, id] = /^(\/v1\/[a-z_]+)\/([^/]+)$/.exec(url.pathname) ?? []
    if (base === "/v1/prices" && id !== undefined) {
      const price = account(accountId).prices.get(id)
      return price ? ok(price) : noSuch("price", id)
    }
    const single = paths[base!]!
    const t = ordered(table(accountId, single))
    const at = t.index.get(id!)
    const row = at === undefined ? undefined : t.rows[at]
    // A deleted customer still answers, as Stripe's `{id, object, deleted: true}`.
    if (row?.deleted && single === "customer") return ok({ id, object: "customer", deleted: true })
    if (!row || row.deleted) return noSuch(objectNames[single], id!)
    if (single !== "product") return ok(objectOf(row))
    return productReply(
      accountId,
      objectOf(row),
      expandParam({ expand: listParam(url.searchParams, "expand") }, ["default_price"])
    )
  }

  const remove = (accountId: string, entity: FakeStripeEntity, row: Row) => {
    row.deleted = true
    emit(accountId, `${objectNames[entity]}.deleted`, objectOf(row))
  }

  const writeCustomer = (accountId: string, method: string, id: string | undefined, form: Form) => {
    if (id === undefined) {
      const customer = appliedCustomer(
        blankCustomer(nextId("cus"), now(), randomBytes(4).toString("hex").toUpperCase()),
        form
      )
      expandParam(form, [])
      insert(accountId, "customer", customer)
      account(accountId).creations.customer += 1
      return ok(customer)
    }
    const row = liveRow(accountId, "customer", id)
    if (!row) return noSuch("customer", id)
    if (method === "DELETE") {
      remove(accountId, "customer", row)
      return ok({ id, object: "customer", deleted: true })
    }
    const after = appliedCustomer(objectOf(row), form)
    expandParam(form, [])
    replace(accountId, "customer", row, after)
    return ok(after)
  }

  /** A new one-time price of a live product (`form`: the optional fields of `POST /v1/prices`). */
  const createPrice = (accountId: string, product: string, unitAmount: number, currency: string, form: Form = {}) => {
    const price = appliedPrice(priceObject(nextId("price"), product, unitAmount, currency, now()), form)
    const found = account(accountId)
    found.prices.set(price.id as string, price)
    found.creations.price += 1
    priceEvent(accountId, price)
    return price
  }

  const appliedPrice = (before: Record<string, unknown>, form: Form): Record<string, unknown> => {
    const after: Record<string, unknown> = { ...before, metadata: metadataParam(before.metadata, form.metadata) }
    const active = booleanParam(form.active, "active")
    if (active !== undefined) after.active = active
    for (const key of ["nickname", "lookup_key"] as const) {
      const value = textParam(form[key], key)
      if (value !== undefined) after[key] = value
    }
    if (form.tax_behavior !== undefined) {
      if (!["inclusive", "exclusive", "unspecified"].includes(String(form.tax_behavior)))
        refuse("Invalid tax_behavior: must be one of inclusive, exclusive, or unspecified", "tax_behavior")
      after.tax_behavior = form.tax_behavior
    }
    return after
  }

  const writeProduct = (accountId: string, id: string | undefined, form: Form) => {
    const at = now()
    if (id === undefined) {
      checkParams(form, productCreateParams)
      const expand = expandParam(form, ["default_price"])
      const name = requiredText(form.name, "name") ?? missing("name")
      const productId = textParam(form.id, "id") ?? nextId("prod")
      if (table(accountId, "product").index.has(productId))
        refuse("Product already exists.", "id", "resource_already_exists")
      const data = form.default_price_data
      if (data !== undefined && !isForm(data)) refuse("Invalid hash", "default_price_data")
      const terms = isForm(data)
        ? {
            currency: currencyParam(data.currency, "default_price_data[currency]"),
            unitAmount: amountParam(data.unit_amount, "default_price_data[unit_amount]"),
            form: data.tax_behavior === undefined ? {} : { tax_behavior: data.tax_behavior }
          }
        : undefined
      const product = appliedProduct(blankProduct(productId, at, name), form, at)
      if (terms) {
        // Checked before anything is stored: a refused request leaves no price behind.
        appliedPrice(priceObject("", productId, terms.unitAmount, terms.currency, at), terms.form)
        product.default_price = createPrice(accountId, productId, terms.unitAmount, terms.currency, terms.form).id
      }
      insert(accountId, "product", product)
      account(accountId).creations.product += 1
      return productReply(accountId, product, expand)
    }
    const row = liveRow(accountId, "product", id)
    if (!row) return noSuch("product", id)
    checkParams(form, productUpdateParams)
    const expand = expandParam(form, ["default_price"])
    const after = appliedProduct(objectOf(row), form, at)
    const defaultPrice = textParam(form.default_price, "default_price")
    if (defaultPrice !== undefined) {
      const price = defaultPrice === null ? undefined : account(accountId).prices.get(defaultPrice)
      if (defaultPrice !== null && price === undefined)
        refuse(`No such price: '${defaultPrice}'`, "default_price", "resource_missing")
      if (price !== undefined && price.product !== id)
        refuse(`The price '${defaultPrice}' is not a price of product '${id}'.`, "default_price")
      if (price !== undefined && price.active !== true)
        refuse("The price specified is inactive. This field only accepts active prices.", "default_price")
      after.default_price = defaultPrice
    }
    replace(accountId, "product", row, after)
    return productReply(accountId, after, expand)
  }

  const writePrice = (accountId: string, id: string | undefined, form: Form) => {
    if (id === undefined) {
      checkParams(form, priceCreateParams)
      expandParam(form, [])
      const product = textParam(form.product, "product") ?? missing("product")
      if (!liveRow(accountId, "product", product))
        refuse(`No such product: '${product}'`, "product", "resource_missing")
      const currency = currencyParam(form.currency, "currency")
      const unitAmount = amountParam(form.unit_amount, "unit_amount")
      appliedPrice(priceObject("", product, unitAmount, currency, now()), form)
      return ok(createPrice(accountId, product, unitAmount, currency, form))
    }
    const prices = account(accountId).prices
    const before = prices.get(id)
    if (!before) return noSuch("price", id)
    checkParams(form, priceUpdateParams)
    expandParam(form, [])
    const after = appliedPrice(before, form)
    if (before.active === true && after.active === false) {
      const product = liveRow(accountId, "product", before.product as string)
      if (product && objectOf(product).default_price === id)
        refuse("This price cannot be archived because it is the default price of its product.")
    }
    prices.set(id, after)
    const changed = Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    priceEvent(accountId, after, Object.fromEntries(changed.map((k) => [k, before[k] ?? null])))
    return ok(after)
  }

  const route = (accountId: string, method: string, url: URL, form: Form): FakeStripeDataReply => {
    try {
      if (method === "GET") return read(accountId, url)
      const [, base, id] = /^\/v1\/(customers|products|prices)(?:\/([^/]+))?$/.exec(url.pathname)!
      if (base === "customers") return writeCustomer(accountId, method, id, form)
      return base === "products" ? writeProduct(accountId, id, form) : writePrice(accountId, id, form)
    } catch (error) {
      if (error instanceof Refused) return error.reply
      throw error
    }
  }

  /** Whether a request is one of the data reads or writes this module answers (the caller has authenticated it). */
  const serves = (method: string, url: URL) =>
    method === "GET"
      ? url.pathname === "/v1/events" ||
        /^\/v1\/(customers|products|payment_intents|invoices|charges)(\/[^/]+)?$/.test(url.pathname) ||
        /^\/v1\/prices\/[^/]+$/.test(url.pathname)
      : method === "POST"
        ? /^\/v1\/(customers|products|prices)(\/[^/]+)?$/.test(url.pathname)
        : method === "DELETE" && /^\/v1\/customers\/[^/]+$/.test(url.pathname)

  /**
   * Stripe's idempotency for a POST with a key: the same parameters get the stored first answer again, others a 400.
   * Stripe keeps an answer once the endpoint has run; a request refused on its parameters (4xx) is not kept.
   */
  const idempotently = (
    accountId: string,
    method: string,
    path: string,
    form: Form,
    key: string | undefined,
    run: () => FakeStripeDataReply
  ): FakeStripeDataReply => {
    if (method !== "POST" || key === undefined) return run()
    const stored = account(accountId).idempotency
    const fingerprint = `${method} ${path} ${canonical(form)}`
    const previous = stored.get(key)
    if (previous) {
      if (previous.fingerprint !== fingerprint) return idempotencyMismatch(key)
      return { ...previous.reply, headers: { ...previous.reply.headers, "idempotent-replayed": "true" } }
    }
    const reply = run()
    if (reply.status < 400) stored.set(key, { fingerprint, reply: { ...reply, body: structuredClone(reply.body) } })
    return reply
  }

  /**
   * Answers a data read or write after the injected failures and the account's rate limit (neither runs the request,
   * so neither is kept for its idempotency key); undefined: not one of them.
   */
  const handle = async (
    accountId: string,
    method: string,
    url: URL,
    request: { readonly body: Form; readonly idempotencyKey: string | undefined } = {
      body: {},
      idempotencyKey: undefined
    }
  ): Promise<FakeStripeDataReply | undefined> => {
    if (!serves(method, url)) return undefined
    const found = account(accountId)
    const { requests, limit } = found
    const at = Date.now()
    // Logged on arrival, so a request still waiting on injected latency is counted in its window.
    const entry = { at, method, path: url.pathname, status: 0 }
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
      // Requests arrive in time order: the window starts at the first one younger than `windowMs`.
      while (found.windowStart < requests.length && requests[found.windowStart]!.at <= at - limit.windowMs)
        found.windowStart += 1
      const admitted: Array<FakeStripeDataRequest> = []
      for (let i = found.windowStart; i < requests.length; i++) {
        const r = requests[i]!
        if (r !== entry && r.status !== 429) admitted.push(r)
      }
      if (admitted.length >= limit.limit) {
        const wait = Math.max(1, Math.ceil((admitted[admitted.length - limit.limit]!.at + limit.windowMs - at) / 1000))
        return answer({ status: 429, body: rateLimitBody, headers: { "retry-after": String(wait) } })
      }
    }
    const { body, idempotencyKey } = request
    return answer(
      idempotently(accountId, method, url.pathname, body, idempotencyKey, () => route(accountId, method, url, body))
    )
  }

  return {
    handle,
    controls,
    idempotently,
    /** The store behind FakeStripe's `addCustomer` (a generated customer with the given fields). */
    createCustomer: (accountId: string, fields: Record<string, unknown>) =>
      controls.upsertRecord(accountId, "customer", fields),
    findCustomer: (accountId: string, id: string) => route(accountId, "GET", new URL(`http://x/v1/customers/${id}`), {})
  }
}

export type FakeStripeDataControls = ReturnType<typeof fakeStripeData>["controls"]
