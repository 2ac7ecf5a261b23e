import { randomBytes } from "node:crypto"
import { json, type Reply } from "./FakeHttp.ts"

/**
 * A seller's data on Square's wire (PROVIDERS.md §1c, §1f, §3), per merchant. Reads:
 * `GET /v2/customers` and `POST /v2/customers/search` (CUSTOMERS_READ), `POST /v2/catalog/search` for ITEMs
 * (ITEMS_READ; `begin_time` exclusive, `include_deleted_objects`, `latest_time`), `POST /v2/orders/search`
 * (ORDERS_READ; 1–10 `location_ids`, a `date_time_filter` field must match `sort.sort_field`), `GET /v2/payments`
 * (PAYMENTS_READ; `begin_time` defaults to a year ago) and `GET /v2/locations`. Pages end with an opaque `cursor`;
 * errors are `{errors:[{category, code, detail}]}`. Deleted customers vanish, deleted catalog objects stay as
 * `is_deleted: true` tombstones, and Square deletes neither orders nor payments.
 *
 * Writes, de-duplicated on `idempotency_key` (same key and request: the first answer again, same ids; another
 * request: `IDEMPOTENCY_KEY_REUSED`): `POST /v2/customers`, `GET`/`PUT`/`DELETE /v2/customers/{id}` (CUSTOMERS_WRITE;
 * a stale `version` is `VERSION_MISMATCH`), `POST /v2/catalog/batch-upsert` (ITEMS_WRITE; ≤ 1,000 objects a batch
 * and 10,000 a request, nested variations counted; `#` ids mapped in `id_mappings`; versions enforced; each batch
 * all or nothing), `POST /v2/catalog/batch-retrieve`, `POST /v2/catalog/batch-delete` (≤ 200 ids) and
 * `POST /v2/inventory/changes/batch-create` (INVENTORY_WRITE; ≤ 100 PHYSICAL_COUNT changes).
 */
export type FakeSquareEntity = "customer" | "product" | "order" | "payment"

export interface FakeSquareInjection {
  /** 429, 5xx, 401, 403, 404 or any other status, answered with Square's body for it. */
  readonly status: number
  /** Default: until `clearInjections()`. */
  readonly times?: number
  /** 429 only: sent as `Retry-After`. */
  readonly retryAfterSeconds?: number
  /** Only this merchant's calls; default every merchant's. */
  readonly accountId?: string
}

export interface FakeSquareRequest {
  /** The fake's clock, ms. */
  readonly at: number
  /** `METHOD /path`. */
  readonly path: string
}

/**
 * A record as the fake keeps it: its object is built from `n` when served (so seeding 100,000 stays cheap), then
 * `patch` (what tests changed) is laid over it.
 */
interface Row {
  readonly id: string
  readonly n: number
  readonly created: number
  updated: number
  /** Changes since creation. */
  changes: number
  patch: Record<string, unknown> | null
  /** Catalog tombstone. */
  deleted: boolean
  /** Orders and payments: what searches filter on. */
  location: string | null
  state: string | null
  /** Written through the API: the object's own fields (all but the `meta` ones), served instead of the built ones. */
  body: Record<string, unknown> | null
}

interface Store {
  /** By (created, id): the order of every full read. */
  sorted: Array<Row>
  readonly byId: Map<string, Row>
}

interface Account {
  readonly stores: Record<FakeSquareEntity, Store>
  readonly locations: Array<Record<string, unknown>>
  readonly requests: Array<FakeSquareRequest>
  /** Answered (not rate-limited) calls, for the sliding window. */
  readonly accepted: Array<number>
  rateLimit: { readonly limit: number; readonly windowMs: number } | null
  /** Last timestamp handed out: every change gets a later one, as catalog versions do. */
  clock: number
  catalogLatest: number
  serial: number
  readonly salt: number
  /** Answers of successful writes by `METHOD /path` and `idempotency_key`, with the request they answered. */
  readonly remembered: Map<string, { readonly request: string; readonly reply: Reply }>
  /** Objects created through the write endpoints. */
  readonly created: Record<FakeSquareEntity, number>
  /** Inventory counts by `catalog_object_id` and `location_id`, with when each was taken. */
  readonly counts: Map<string, { readonly count: InventoryCount; readonly occurred: number }>
}

export interface InventoryCount {
  readonly catalog_object_id: string
  readonly catalog_object_type: "ITEM_VARIATION"
  readonly state: "IN_STOCK"
  readonly location_id: string
  readonly quantity: string
  readonly calculated_at: string
}

type Order = "created" | "updated"
interface Key {
  readonly k: number
  readonly i: string
}

const DAY = 86_400_000
const entities: ReadonlyArray<FakeSquareEntity> = ["customer", "product", "order", "payment"]
const scopeOf: Record<FakeSquareEntity, string> = {
  customer: "CUSTOMERS_READ",
  product: "ITEMS_READ",
  order: "ORDERS_READ",
  payment: "PAYMENTS_READ"
}

const squareError = (category: string, code: string, detail: string, field?: string) => ({
  errors: [{ category, code, detail, ...(field === undefined ? {} : { field }) }]
})
const invalid = (code: string, detail: string, field?: string) =>
  json(400, squareError("INVALID_REQUEST_ERROR", code, detail, field))

const iso = (ms: number) => new Date(ms).toISOString()
const parseTime = (value: unknown): number | null => {
  if (typeof value !== "string") return null
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? null : ms
}

const base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * Square-looking ids, the same every time a record is built: letters drawn from `key` and the merchant's `salt`,
 * then `key` itself so no two collide.
 */
const idOf = (alphabet: string, length: number, key: number, salt: number) => {
  const tail = key.toString(36).toUpperCase()
  let state = (Math.imul(key, 2654435761) ^ salt) >>> 0
  let id = ""
  for (let n = tail.length; n < length; n++) {
    state = (Math.imul(state ^ (state >>> 15), 2246822519) + 0x6d2b79f5) >>> 0
    id += alphabet[state % alphabet.length]
  }
  return id + tail
}

const givenNames = ["Amelia", "Oscar", "Priya", "Jonas", "Mei", "Kwame", "Lucia", "Tomasz", "Aoife", "Rafael"]
const familyNames = ["Earhart", "Nakamura", "Okafor", "Lindqvist", "Moreau", "Patel", "Quinn", "Rossi", "Silva"]
const cities = [
  ["New York", "NY", "10003"],
  ["Chicago", "IL", "60601"],
  ["Austin", "TX", "78701"],
  ["Seattle", "WA", "98101"]
] as const
const itemNames = [
  ["General Admission", "Standing, doors at 7pm"],
  ["Stalls Seat", "Reserved seating in the stalls"],
  ["Balcony Seat", "Reserved seating on the balcony"],
  ["VIP Package", "Premium seat, lounge access and a programme"],
  ["Programme", "Printed souvenir programme"],
  ["Tour T-Shirt", "Cotton tee, unisex"]
] as const

const money = (amount: number) => ({ amount, currency: "USD" })

export interface FakeSquareDataOptions {
  readonly now: () => number
  readonly merchantId: string
  readonly businessName: string
}

export const fakeSquareData = (options: FakeSquareDataOptions) => {
  const { now } = options
  const accounts = new Map<string, Account>()
  let injection: { readonly spec: FakeSquareInjection; remaining: number } | null = null
  let latencyMs = 0

  const location = (account: string, id: string, index: number) => ({
    id,
    name: index === 0 ? `${options.businessName} (main)` : `${options.businessName} (${index + 1})`,
    business_name: options.businessName,
    merchant_id: account,
    status: "ACTIVE",
    country: "US",
    currency: "USD",
    timezone: "America/New_York",
    created_at: "2026-01-01T00:00:00Z"
  })

  const accountOf = (id: string): Account => {
    const found = accounts.get(id)
    if (found !== undefined) return found
    const stores = Object.fromEntries(entities.map((e) => [e, { sorted: [], byId: new Map() }])) as unknown as Record<
      FakeSquareEntity,
      Store
    >
    const salt = randomBytes(4).readUInt32LE(0)
    const first = id === options.merchantId ? "LFAKELOCATION01" : `L${idOf(base32, 12, 1, salt)}`
    const created: Account = {
      stores,
      locations: [location(id, first, 0)],
      requests: [],
      accepted: [],
      rateLimit: null,
      clock: 0,
      catalogLatest: 0,
      serial: 0,
      salt,
      remembered: new Map(),
      created: { customer: 0, product: 0, order: 0, payment: 0 },
      counts: new Map()
    }
    accounts.set(id, created)
    return created
  }

  const stamp = (account: Account) => {
    account.clock = Math.max(now(), account.clock + 1)
    return account.clock
  }

  const compare = (a: Key, b: Key) => a.k - b.k || (a.i < b.i ? -1 : a.i > b.i ? 1 : 0)
  const keyOf = (row: Row, order: Order): Key => ({ k: order === "created" ? row.created : row.updated, i: row.id })

  /** First index whose (created, id) is after `key`. */
  const firstAfter = (sorted: ReadonlyArray<Row>, key: Key) => {
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(keyOf(sorted[mid]!, "created"), key) <= 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  const insert = (store: Store, row: Row) => {
    store.sorted.splice(firstAfter(store.sorted, keyOf(row, "created")), 0, row)
    store.byId.set(row.id, row)
  }

  // The cursor names the last row served, so inserts and deletions elsewhere neither skip nor repeat rows.
  const encodeCursor = (key: Key) => Buffer.from(JSON.stringify(key)).toString("base64url")
  const decodeCursor = (cursor: unknown): Key | null | "invalid" => {
    if (cursor === undefined || cursor === null || cursor === "") return null
    if (typeof cursor !== "string") return "invalid"
    try {
      const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Key
      return typeof key.k === "number" && typeof key.i === "string" ? key : "invalid"
    } catch {
      return "invalid"
    }
  }

  /** One page of `filter`'s rows after `after`, in (order, id) ascending or descending. */
  const pageOf = (
    store: Store,
    order: Order,
    descending: boolean,
    filter: (row: Row) => boolean,
    after: Key | null,
    limit: number
  ) => {
    const rows: Array<Row> = []
    let more = false
    if (order === "created") {
      const step = descending ? -1 : 1
      let at = after === null ? 0 : firstAfter(store.sorted, after)
      if (descending) {
        if (after === null) at = store.sorted.length
        // Back past `after` itself when it is still there.
        at -= 1
        if (after !== null && at >= 0 && compare(keyOf(store.sorted[at]!, "created"), after) === 0) at -= 1
      }
      for (; at >= 0 && at < store.sorted.length; at += step) {
        const row = store.sorted[at]!
        if (!filter(row)) continue
        if (rows.length === limit) {
          more = true
          break
        }
        rows.push(row)
      }
    } else {
      const sign = descending ? -1 : 1
      const matching = store.sorted
        .filter((row) => filter(row) && (after === null || sign * compare(keyOf(row, "updated"), after) > 0))
        .sort((a, b) => sign * compare(keyOf(a, "updated"), keyOf(b, "updated")))
      rows.push(...matching.slice(0, limit))
      more = matching.length > limit
    }
    const last = rows.at(-1)
    return { rows, cursor: more && last !== undefined ? encodeCursor(keyOf(last, order)) : undefined }
  }

  // ---- records, shaped like the fixtures in test/fixtures/sync/square/

  const customerRaw = (account: Account, row: Row) => {
    const { n } = row
    const given = givenNames[n % givenNames.length]!
    const family = familyNames[(n * 7) % familyNames.length]!
    const [city, region, zip] = cities[n % cities.length]!
    return {
      id: row.id,
      created_at: iso(row.created),
      updated_at: iso(row.updated),
      given_name: given,
      family_name: family,
      email_address: `${given}.${family}.${n}@example.com`,
      phone_number: `+1-212-555-${String(1000 + (n % 9000)).padStart(4, "0")}`,
      address: {
        address_line_1: `${100 + (n % 900)} Electric Ave`,
        locality: city,
        administrative_district_level_1: region,
        postal_code: zip,
        country: "US"
      },
      preferences: { email_unsubscribed: n % 5 === 0 },
      creation_source: "THIRD_PARTY",
      reference_id: `venue-patron-${n}`,
      segment_ids: [`${account.locations[0]!.id}.REACHABLE`],
      version: 1 + row.changes
    }
  }

  const productRaw = (account: Account, row: Row) => {
    const { n } = row
    const [name, description] = itemNames[n % itemNames.length]!
    return {
      type: "ITEM",
      id: row.id,
      created_at: iso(row.created),
      updated_at: iso(row.updated),
      version: row.updated,
      is_deleted: row.deleted,
      present_at_all_locations: true,
      item_data: {
        name: `${name} #${n}`,
        description,
        is_archived: false,
        product_type: "REGULAR",
        variations: [
          {
            type: "ITEM_VARIATION",
            id: idOf(base32, 24, n * 4 + 1, account.salt),
            created_at: iso(row.created),
            updated_at: iso(row.created),
            version: row.created,
            is_deleted: false,
            present_at_all_locations: true,
            item_variation_data: {
              item_id: row.id,
              name: "Regular",
              ordinal: 0,
              pricing_type: "FIXED_PRICING",
              price_money: money(500 + (n % 40) * 250)
            }
          }
        ]
      }
    }
  }

  const orderRaw = (account: Account, row: Row) => {
    const { n } = row
    const [name] = itemNames[n % itemNames.length]!
    const quantity = 1 + (n % 4)
    const price = 500 + (n % 40) * 250
    const total = price * quantity
    const zero = money(0)
    return {
      id: row.id,
      location_id: row.location,
      reference_id: `booking-${n}`,
      source: { name: "Box office" },
      customer_id: idOf(base32, 26, n * 4 + 2, account.salt),
      line_items: [
        {
          uid: idOf(base62, 22, n * 4 + 3, account.salt),
          catalog_object_id: idOf(base32, 24, n * 4 + 1, account.salt),
          catalog_version: row.created,
          quantity: String(quantity),
          name,
          variation_name: "Regular",
          base_price_money: money(price),
          variation_total_price_money: money(total),
          gross_sales_money: money(total),
          total_tax_money: zero,
          total_discount_money: zero,
          total_money: money(total),
          item_type: "ITEM"
        }
      ],
      net_amounts: {
        total_money: money(total),
        tax_money: zero,
        discount_money: zero,
        tip_money: zero,
        service_charge_money: zero
      },
      state: row.state,
      version: 1 + row.changes,
      created_at: iso(row.created),
      updated_at: iso(row.updated),
      ...(row.state === "COMPLETED" ? { closed_at: iso(row.created + 60_000) } : {}),
      total_money: money(total),
      total_tax_money: zero,
      total_discount_money: zero,
      total_tip_money: zero,
      total_service_charge_money: zero
    }
  }

  const paymentStatuses = ["COMPLETED", "COMPLETED", "COMPLETED", "APPROVED", "CANCELED", "FAILED"] as const
  const paymentRaw = (account: Account, row: Row) => {
    const { n } = row
    const amount = 500 + (n % 40) * 250
    const status = paymentStatuses[n % paymentStatuses.length]!
    return {
      id: row.id,
      created_at: iso(row.created),
      updated_at: iso(row.updated),
      amount_money: money(amount),
      approved_money: money(amount),
      total_money: money(amount),
      status,
      delay_duration: "PT168H",
      delay_action: "CANCEL",
      delayed_until: iso(row.created + 7 * DAY),
      source_type: "CARD",
      card_details: {
        status: status === "COMPLETED" ? "CAPTURED" : status === "FAILED" ? "FAILED" : "AUTHORIZED",
        card: {
          card_brand: "VISA",
          last_4: String(1000 + (n % 9000)),
          exp_month: 1 + (n % 12),
          exp_year: 2030,
          fingerprint: `sq-1-${idOf(base62, 60, n * 4 + 1, account.salt)}`,
          card_type: "DEBIT",
          prepaid_type: "NOT_PREPAID",
          bin: "411111"
        },
        entry_method: "KEYED",
        cvv_status: "CVV_ACCEPTED",
        avs_status: "AVS_ACCEPTED",
        statement_description: "SQ *FAKE VENUE",
        card_payment_timeline: { authorized_at: iso(row.created + 150) }
      },
      location_id: row.location,
      order_id: idOf(base62, 29, n * 4 + 2, account.salt),
      receipt_number: row.id.slice(0, 4),
      receipt_url: `https://squareup.com/receipt/preview/${row.id}`,
      application_details: { square_product: "VIRTUAL_TERMINAL", application_id: "sq0ids-fake-venue" },
      version_token: idOf(base62, 45, (n * 4 + 3) * 1000 + row.changes, account.salt)
    }
  }

  const builders = { customer: customerRaw, product: productRaw, order: orderRaw, payment: paymentRaw }
  const idLengths = {
    customer: [base32, 26],
    product: [base32, 24],
    order: [base62, 27],
    payment: [base62, 29]
  } as const
  const orderStatesByN = ["COMPLETED", "COMPLETED", "COMPLETED", "OPEN", "CANCELED"] as const

  /** The record's object as Square would answer it now. */
  const rawOf = (account: Account, entity: FakeSquareEntity, row: Row): Record<string, unknown> => {
    if (row.body !== null) return { ...metaOf(entity, row), ...row.body, ...row.patch }
    const built: Record<string, unknown> = builders[entity](account, row)
    return row.patch === null ? built : { ...built, ...row.patch }
  }

  const newRow = (
    account: Account,
    entity: FakeSquareEntity,
    created: number,
    updated: number,
    given?: string
  ): Row => {
    const n = ++account.serial
    const [alphabet, length] = idLengths[entity]
    const located = entity === "order" || entity === "payment"
    return {
      id: given ?? idOf(alphabet, length, n * 4, account.salt),
      n,
      created,
      updated,
      changes: 0,
      patch: null,
      deleted: false,
      body: null,
      location: located ? String(account.locations[n % account.locations.length]!.id) : null,
      state: entity === "order" ? orderStatesByN[n % orderStatesByN.length]! : null
    }
  }

  /** A test's change: its fields laid over the record, timestamps and version bumped the way Square does. */
  const change = (row: Row, fields: Record<string, unknown>, at: number) => {
    const { id: _id, ...rest } = fields
    row.patch = { ...row.patch, ...rest }
    if (typeof rest.location_id === "string") row.location = rest.location_id
    if (typeof rest.state === "string") row.state = rest.state
    row.updated = at
    row.changes += 1
  }

  // ---- writes: customers one by one, the catalog in batches, inventory counts (PROVIDERS.md §1c, §1f)

  /** What Square sets on an object itself; the rest of a written object is its `body`. */
  const metaOf = (entity: FakeSquareEntity, row: Row): Record<string, unknown> =>
    entity === "product"
      ? {
          type: "ITEM",
          id: row.id,
          created_at: iso(row.created),
          updated_at: iso(row.updated),
          version: row.updated,
          is_deleted: row.deleted
        }
      : { id: row.id, created_at: iso(row.created), updated_at: iso(row.updated), version: 1 + row.changes }

  /** The object's own fields as served now (built or written, with any test change laid over). */
  const ownFields = (account: Account, entity: FakeSquareEntity, row: Row): Record<string, unknown> => {
    const meta = metaOf(entity, row)
    return Object.fromEntries(Object.entries(rawOf(account, entity, row)).filter(([k]) => !(k in meta)))
  }

  const notFound = (detail: string) => json(404, squareError("INVALID_REQUEST_ERROR", "NOT_FOUND", detail))

  /**
   * Square keeps a write's answer under its `idempotency_key`: the same key with the same request answers the first
   * answer again (same ids, nothing created); with another request, `IDEMPOTENCY_KEY_REUSED`. Refusals are not kept,
   * so a corrected request may reuse its key.
   */
  const idempotent = (
    account: Account,
    route: string,
    body: Record<string, unknown>,
    maxLength: number,
    run: () => Reply
  ): Reply => {
    const key = body.idempotency_key
    if (key === undefined) return run()
    if (typeof key !== "string" || key === "")
      return invalid("INVALID_VALUE", "idempotency_key must be a non-empty string.", "idempotency_key")
    if (key.length > maxLength)
      return invalid("VALUE_TOO_LONG", `idempotency_key must be at most ${maxLength} characters.`, "idempotency_key")
    const slot = `${route}\u0000${key}`
    const request = JSON.stringify(body)
    const seen = account.remembered.get(slot)
    if (seen !== undefined)
      return seen.request === request
        ? seen.reply
        : invalid(
            "IDEMPOTENCY_KEY_REUSED",
            "The idempotency key can only be retried with the same request data.",
            "idempotency_key"
          )
    const reply = run()
    if (reply.status < 300) account.remembered.set(slot, { request, reply })
    return reply
  }

  const customerFields = [
    "given_name",
    "family_name",
    "company_name",
    "nickname",
    "email_address",
    "address",
    "phone_number",
    "reference_id",
    "note",
    "birthday"
  ] as const
  const customerLimits: Partial<Record<(typeof customerFields)[number], number>> = {
    given_name: 300,
    family_name: 300,
    company_name: 500,
    nickname: 100,
    email_address: 254,
    reference_id: 100,
    note: 500
  }

  /** Square's checks of a customer's fields: length limits, an email address and a phone number that parse. */
  const customerRefusal = (fields: Record<string, unknown>): Reply | null => {
    for (const [field, limit] of Object.entries(customerLimits)) {
      const value = fields[field]
      if (typeof value === "string" && value.length > limit)
        return invalid("VALUE_TOO_LONG", `Field must not be longer than ${limit} characters.`, field)
    }
    const email = fields.email_address
    if (typeof email === "string" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      return invalid("INVALID_EMAIL_ADDRESS", "Expected email_address to be a valid email address.", "email_address")
    const phone = fields.phone_number
    if (typeof phone === "string") {
      const digits = phone.replace(/\D/g, "").length
      if (/[a-z]/i.test(phone) || digits < 9 || digits > 16)
        return invalid("INVALID_PHONE_NUMBER", "Expected phone_number to be a valid phone number.", "phone_number")
    }
    return null
  }

  const pickCustomer = (body: Record<string, unknown>) =>
    Object.fromEntries(customerFields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]))

  const createCustomer = (account: Account, body: Record<string, unknown>): Reply =>
    idempotent(account, "POST /v2/customers", body, 45, () => {
      const fields = pickCustomer(body)
      const named = ["given_name", "family_name", "company_name", "email_address", "phone_number"].some(
        (f) => typeof fields[f] === "string" && fields[f] !== ""
      )
      if (!named)
        return invalid(
          "MISSING_REQUIRED_PARAMETER",
          "At least one of the following must be included: given_name, family_name, company_name, email_address, or phone_number."
        )
      const refused = customerRefusal(fields)
      if (refused !== null) return refused
      const at = stamp(account)
      const row = newRow(account, "customer", at, at)
      row.body = { ...fields, preferences: { email_unsubscribed: false }, creation_source: "THIRD_PARTY" }
      insert(account.stores.customer, row)
      account.created.customer += 1
      return reply({ customer: rawOf(account, "customer", row) })
    })

  const liveCustomer = (account: Account, id: string) => account.stores.customer.byId.get(id)
  const customerNotFound = (id: string) => notFound(`Customer with ID \`${id}\` not found.`)
  const versionMismatch = (detail: string) => invalid("VERSION_MISMATCH", detail, "version")

  const getCustomer = (account: Account, id: string): Reply => {
    const row = liveCustomer(account, id)
    return row === undefined ? customerNotFound(id) : reply({ customer: rawOf(account, "customer", row) })
  }

  /** A sparse update: fields sent replace, `null` removes, the rest stays; a stale `version` is refused. */
  const updateCustomer = (account: Account, id: string, body: Record<string, unknown>): Reply => {
    const row = liveCustomer(account, id)
    if (row === undefined) return customerNotFound(id)
    if (body.version !== undefined && body.version !== 1 + row.changes)
      return versionMismatch(
        `Customer version ${String(body.version)} does not match current version ${1 + row.changes}.`
      )
    const sent = pickCustomer(body)
    const refused = customerRefusal(sent)
    if (refused !== null) return refused
    const fields = ownFields(account, "customer", row)
    for (const [field, value] of Object.entries(sent)) {
      if (value === null) delete fields[field]
      else fields[field] = value
    }
    row.body = fields
    row.patch = null
    row.updated = stamp(account)
    row.changes += 1
    return reply({ customer: rawOf(account, "customer", row) })
  }

  const deleteCustomer = (account: Account, id: string, url: URL): Reply => {
    const row = liveCustomer(account, id)
    if (row === undefined) return customerNotFound(id)
    const version = url.searchParams.get("version")
    if (version !== null && Number(version) !== 1 + row.changes)
      return versionMismatch(`Customer version ${version} does not match current version ${1 + row.changes}.`)
    const store = account.stores.customer
    store.byId.delete(id)
    store.sorted.splice(store.sorted.indexOf(row), 1)
    return reply({})
  }

  /** Square's per-batch and per-request object limits; an ITEM's nested variations count as objects. */
  const objectsPerBatch = 1000
  const objectsPerRequest = 10_000
  const asRecord = (value: unknown): Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  const variationsOf = (object: Record<string, unknown>): ReadonlyArray<Record<string, unknown>> => {
    const list = asRecord(object.item_data).variations
    return Array.isArray(list) ? list.map(asRecord) : []
  }
  const objectCount = (object: Record<string, unknown>) => 1 + variationsOf(object).length

  const liveItem = (account: Account, id: string) => {
    const row = account.stores.product.byId.get(id)
    return row === undefined || row.deleted ? undefined : row
  }

  interface BatchError {
    readonly category: string
    readonly code: string
    readonly detail: string
    readonly field?: string
  }
  const batchError = (code: string, detail: string, field?: string): BatchError => ({
    category: "INVALID_REQUEST_ERROR",
    code,
    detail,
    ...(field === undefined ? {} : { field })
  })

  /** The first reason Square would refuse this ITEM (checked before anything of its batch is written). */
  const itemRefusal = (account: Account, object: Record<string, unknown>, tempIds: Set<string>): BatchError | null => {
    const id = object.id
    if (object.type !== "ITEM")
      return batchError("INVALID_VALUE", "The fake upserts ITEM objects (with their variations) only.", "type")
    if (typeof id !== "string" || id === "") return batchError("MISSING_REQUIRED_PARAMETER", "Field must be set", "id")
    if (object.is_deleted === true) return batchError("INVALID_VALUE", `Object \`${id}\` cannot be upserted deleted.`)
    const existing = id.startsWith("#") ? undefined : liveItem(account, id)
    if (id.startsWith("#")) {
      if (tempIds.has(id)) return batchError("INVALID_VALUE", `Duplicate client object ID \`${id}\`.`, "id")
      tempIds.add(id)
    } else if (existing === undefined) return batchError("NOT_FOUND", `Object \`${id}\` not found.`, "id")
    const current = existing === undefined ? null : rawOf(account, "product", existing)
    if (current !== null && object.version !== undefined && object.version !== current.version)
      return batchError(
        "VERSION_MISMATCH",
        `Object \`${id}\` version does not match latest database version.`,
        "version"
      )
    const data = asRecord(object.item_data)
    if (typeof data.name !== "string" || data.name === "")
      return batchError("MISSING_REQUIRED_PARAMETER", `Object \`${id}\` needs a name.`, "item_data.name")
    if (data.name.length > 512)
      return batchError("VALUE_TOO_LONG", `Object \`${id}\`: name must be at most 512 characters.`, "item_data.name")
    const currentVariations = new Map(
      (current === null ? [] : variationsOf(current)).map((v) => [String(v.id), v] as const)
    )
    for (const variation of variationsOf(object)) {
      const vid = variation.id
      if (variation.type !== "ITEM_VARIATION" || typeof vid !== "string" || vid === "")
        return batchError("INVALID_VALUE", `Object \`${id}\`: a variation needs type ITEM_VARIATION and an id.`)
      if (vid.startsWith("#")) {
        if (tempIds.has(vid)) return batchError("INVALID_VALUE", `Duplicate client object ID \`${vid}\`.`, "id")
        tempIds.add(vid)
      } else {
        const was = currentVariations.get(vid)
        if (was === undefined) return batchError("NOT_FOUND", `Object \`${vid}\` not found.`, "id")
        if (variation.version !== undefined && variation.version !== was.version)
          return batchError(
            "VERSION_MISMATCH",
            `Object \`${vid}\` version does not match latest database version.`,
            "version"
          )
      }
      const vdata = asRecord(variation.item_variation_data)
      if (typeof vdata.name === "string" && vdata.name.length > 255)
        return batchError("VALUE_TOO_LONG", `Object \`${vid}\`: name must be at most 255 characters.`, "name")
      const price = vdata.price_money === undefined ? null : asRecord(vdata.price_money)
      if ((vdata.pricing_type ?? "FIXED_PRICING") === "FIXED_PRICING" && price === null)
        return batchError(
          "MISSING_REQUIRED_PARAMETER",
          `Object \`${vid}\`: price_money is required for FIXED_PRICING.`,
          "price_money"
        )
      if (price !== null) {
        if (!Number.isInteger(price.amount) || (price.amount as number) < 0)
          return batchError("VALUE_TOO_LOW", `Object \`${vid}\`: price_money.amount must be at least 0.`, "amount")
        if (price.currency !== "USD")
          return batchError(
            "INVALID_VALUE",
            `Object \`${vid}\`: currency ${String(price.currency)} is not the seller's currency USD.`,
            "currency"
          )
      }
    }
    return null
  }

  /** Writes one ITEM of a valid batch at `at`: new ids for `#` ones, every version the write's stamp. */
  const writeItem = (
    account: Account,
    object: Record<string, unknown>,
    at: number,
    mappings: Array<{ client_object_id: string; object_id: string }>
  ): Row => {
    const id = String(object.id)
    const existing = id.startsWith("#") ? undefined : liveItem(account, id)
    const row = existing ?? newRow(account, "product", at, at)
    if (existing === undefined) mappings.push({ client_object_id: id, object_id: row.id })
    const before = new Map(
      (existing === undefined ? [] : variationsOf(rawOf(account, "product", existing))).map(
        (v) => [String(v.id), v] as const
      )
    )
    const variations = variationsOf(object).map((variation) => {
      const given = String(variation.id)
      let vid = given
      if (given.startsWith("#")) {
        vid = idOf(base32, 24, ++account.serial * 4 + 1, account.salt)
        mappings.push({ client_object_id: given, object_id: vid })
      }
      const { id: _id, version: _v, created_at: _c, updated_at: _u, is_deleted: _d, ...rest } = variation
      return {
        ...rest,
        type: "ITEM_VARIATION",
        id: vid,
        created_at: before.get(vid)?.created_at ?? iso(at),
        updated_at: iso(at),
        version: at,
        is_deleted: false,
        present_at_all_locations: variation.present_at_all_locations ?? true,
        item_variation_data: { ...asRecord(variation.item_variation_data), item_id: row.id }
      }
    })
    const { id: _id, type: _t, version: _v, created_at: _c, updated_at: _u, is_deleted: _d, ...rest } = object
    row.body = {
      ...rest,
      present_at_all_locations: object.present_at_all_locations ?? true,
      item_data: { ...asRecord(object.item_data), variations }
    }
    row.patch = null
    if (existing === undefined) {
      insert(account.stores.product, row)
      account.created.product += 1
    } else {
      row.updated = at
      row.changes += 1
    }
    return row
  }

  /**
   * BatchUpsertCatalogObjects: each batch all or nothing, a failed batch leaving the others written. The answer
   * holds the written ITEMs, `id_mappings` of every `#` id, and an error per failed batch naming the object; when no
   * batch is written, it is a 400 with those errors.
   */
  const batchUpsert = (account: Account, body: Record<string, unknown>): Reply => {
    if (typeof body.idempotency_key !== "string")
      return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "idempotency_key")
    const batches = Array.isArray(body.batches) ? body.batches.map(asRecord) : []
    if (batches.length === 0) return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "batches")
    let total = 0
    for (const batch of batches) {
      const objects = Array.isArray(batch.objects) ? batch.objects.map(asRecord) : []
      const count = objects.reduce((sum, o) => sum + objectCount(o), 0)
      if (count > objectsPerBatch)
        return invalid(
          "INVALID_VALUE",
          `Too many objects (${count}, max ${objectsPerBatch}) in a single batch in BatchUpsertCatalogObjects request.`,
          "batches"
        )
      total += count
    }
    if (total > objectsPerRequest)
      return invalid(
        "INVALID_VALUE",
        `Too many objects (${total}, max ${objectsPerRequest}) in BatchUpsertCatalogObjects request.`,
        "batches"
      )
    return idempotent(account, "POST /v2/catalog/batch-upsert", body, 128, () => {
      const at = stamp(account)
      const tempIds = new Set<string>()
      const written: Array<Row> = []
      const mappings: Array<{ client_object_id: string; object_id: string }> = []
      const errors: Array<BatchError> = []
      for (const batch of batches) {
        const objects = Array.isArray(batch.objects) ? batch.objects.map(asRecord) : []
        const refusal = objects.reduce<BatchError | null>((r, o) => r ?? itemRefusal(account, o, tempIds), null)
        if (refusal !== null) errors.push(refusal)
        else written.push(...objects.map((o) => writeItem(account, o, at, mappings)))
      }
      if (written.length === 0) return json(400, { errors })
      account.catalogLatest = at
      return reply({
        objects: written.map((row) => rawOf(account, "product", row)),
        id_mappings: mappings,
        updated_at: iso(at),
        errors
      })
    })
  }

  /** BatchRetrieveCatalogObjects: live ITEMs and ITEM_VARIATIONs by id; unknown and deleted ids are left out. */
  const batchRetrieve = (account: Account, body: Record<string, unknown>): Reply => {
    const ids = body.object_ids
    if (!Array.isArray(ids) || ids.length === 0)
      return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "object_ids")
    if (ids.length > 1000) return invalid("ARRAY_LENGTH_TOO_LONG", "At most 1000 object_ids are allowed.", "object_ids")
    const wanted = new Set(ids.map(String))
    const objects: Array<Record<string, unknown>> = []
    for (const row of account.stores.product.sorted) {
      if (row.deleted) continue
      const raw = rawOf(account, "product", row)
      if (wanted.has(row.id)) objects.push(raw)
      for (const variation of variationsOf(raw)) if (wanted.has(String(variation.id))) objects.push(variation)
    }
    return reply({ objects })
  }

  /** BatchDeleteCatalogObjects: ITEMs become tombstones with their variations; ids not deleted are left out. */
  const batchDelete = (account: Account, body: Record<string, unknown>): Reply => {
    const ids = body.object_ids
    if (!Array.isArray(ids) || ids.length === 0)
      return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "object_ids")
    if (ids.length > 200) return invalid("ARRAY_LENGTH_TOO_LONG", "At most 200 object_ids are allowed.", "object_ids")
    const at = stamp(account)
    const deleted: Array<string> = []
    for (const id of new Set(ids.map(String))) {
      const row = liveItem(account, id)
      if (row === undefined) continue
      deleted.push(id, ...variationsOf(rawOf(account, "product", row)).map((v) => String(v.id)))
      row.deleted = true
      row.updated = at
      row.changes += 1
    }
    if (deleted.length > 0) account.catalogLatest = at
    return reply({ deleted_object_ids: deleted, deleted_at: iso(at) })
  }

  const countKey = (catalogObjectId: string, locationId: string) => `${catalogObjectId}\u0000${locationId}`

  /** The live variation `id` of some live ITEM, or undefined. */
  const liveVariation = (account: Account, id: string) => {
    for (const row of account.stores.product.sorted) {
      if (row.deleted) continue
      const found = variationsOf(rawOf(account, "product", row)).find((v) => v.id === id)
      if (found !== undefined) return found
    }
    return undefined
  }

  /**
   * BatchChangeInventory with PHYSICAL_COUNT changes (≤ 100): the count of a variation at a location becomes the
   * quantity, unless a count that occurred later is already there. All changes are checked before any is applied.
   */
  const batchChangeInventory = (account: Account, body: Record<string, unknown>): Reply => {
    if (typeof body.idempotency_key !== "string")
      return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "idempotency_key")
    const changes = Array.isArray(body.changes) ? body.changes.map(asRecord) : []
    if (changes.length === 0) return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "changes")
    if (changes.length > 100) return invalid("ARRAY_LENGTH_TOO_LONG", "At most 100 changes are allowed.", "changes")
    return idempotent(account, "POST /v2/inventory/changes/batch-create", body, 128, () => {
      const locations = new Set(account.locations.map((l) => String(l.id)))
      const counts: Array<{ count: Record<string, unknown>; occurred: number }> = []
      for (const [index, change] of changes.entries()) {
        const at = `changes[${index}].physical_count`
        if (change.type !== "PHYSICAL_COUNT")
          return invalid("INVALID_VALUE", "The fake takes PHYSICAL_COUNT changes only.", `changes[${index}].type`)
        const count = asRecord(change.physical_count)
        const objectId = String(count.catalog_object_id ?? "")
        if (liveVariation(account, objectId) === undefined)
          return invalid("NOT_FOUND", `Item variation \`${objectId}\` not found.`, `${at}.catalog_object_id`)
        if (!locations.has(String(count.location_id)))
          return invalid("NOT_FOUND", `Location \`${String(count.location_id)}\` not found.`, `${at}.location_id`)
        if (count.state !== "IN_STOCK")
          return invalid("INVALID_VALUE", "The fake counts the IN_STOCK state only.", `${at}.state`)
        if (typeof count.quantity !== "string" || !/^\d{1,12}(\.\d{1,5})?$/.test(count.quantity))
          return invalid("INVALID_VALUE", "quantity must be a non-negative decimal string.", `${at}.quantity`)
        const occurred = parseTime(count.occurred_at)
        if (occurred === null)
          return invalid("INVALID_TIME", "occurred_at must be an RFC 3339 timestamp.", `${at}.occurred_at`)
        counts.push({ count, occurred })
      }
      const calculated = iso(stamp(account))
      const answered: Array<InventoryCount> = []
      const recorded: Array<Record<string, unknown>> = []
      for (const { count, occurred } of counts) {
        const key = countKey(String(count.catalog_object_id), String(count.location_id))
        const before = account.counts.get(key)
        const latest =
          before === undefined || occurred >= before.occurred
            ? {
                occurred,
                count: {
                  catalog_object_id: String(count.catalog_object_id),
                  catalog_object_type: "ITEM_VARIATION" as const,
                  state: "IN_STOCK" as const,
                  location_id: String(count.location_id),
                  quantity: String(count.quantity),
                  calculated_at: calculated
                }
              }
            : before
        account.counts.set(key, latest)
        answered.push(latest.count)
        recorded.push({
          type: "PHYSICAL_COUNT",
          physical_count: {
            ...count,
            id: idOf(base32, 24, ++account.serial * 4 + 3, account.salt),
            catalog_object_type: "ITEM_VARIATION",
            created_at: calculated
          }
        })
      }
      return reply({ counts: answered, changes: recorded })
    })
  }

  // ---- serving

  const listCustomers = (account: Account, url: URL): Reply => {
    const q = url.searchParams
    const limit = Number(q.get("limit") ?? 100)
    if (!Number.isInteger(limit) || limit < 1) return invalid("VALUE_TOO_LOW", "`limit` must be at least 1.", "limit")
    if (limit > 100) return invalid("VALUE_TOO_HIGH", "`limit` must be at most 100.", "limit")
    const sortField = q.get("sort_field") ?? "DEFAULT"
    if (sortField !== "DEFAULT" && sortField !== "CREATED_AT")
      return invalid("INVALID_ENUM_VALUE", `Invalid sort_field ${sortField}.`, "sort_field")
    const after = decodeCursor(q.get("cursor"))
    if (after === "invalid") return invalid("INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    // The fake's DEFAULT order is creation order too (Square's is by name).
    const page = pageOf(account.stores.customer, "created", q.get("sort_order") === "DESC", () => true, after, limit)
    return reply({
      customers: page.rows.map((r) => rawOf(account, "customer", r)),
      cursor: page.cursor,
      count: q.get("count") === "true" ? account.stores.customer.sorted.length : undefined
    })
  }

  const range = (value: unknown) => {
    const r = (value ?? {}) as { start_at?: unknown; end_at?: unknown }
    return { start: parseTime(r.start_at), end: parseTime(r.end_at) }
  }
  const within = (at: number, r: { start: number | null; end: number | null }) =>
    (r.start === null || at >= r.start) && (r.end === null || at <= r.end)

  const searchCustomers = (account: Account, body: Record<string, unknown>): Reply => {
    const limit = Number(body.limit ?? 100)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return invalid("INVALID_VALUE", "`limit` must be between 1 and 100.", "limit")
    const after = decodeCursor(body.cursor)
    if (after === "invalid") return invalid("INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    const query = (body.query ?? {}) as { filter?: Record<string, unknown>; sort?: { order?: unknown } }
    const updated = range(query.filter?.updated_at)
    const created = range(query.filter?.created_at)
    const matches = (row: Row) => within(row.updated, updated) && within(row.created, created)
    const page = pageOf(account.stores.customer, "created", query.sort?.order === "DESC", matches, after, limit)
    return reply({
      customers: page.rows.map((r) => rawOf(account, "customer", r)),
      cursor: page.cursor,
      count: body.count === true ? account.stores.customer.sorted.filter(matches).length : undefined
    })
  }

  const searchCatalog = (account: Account, body: Record<string, unknown>): Reply => {
    const types = body.object_types
    if (!Array.isArray(types) || !types.includes("ITEM"))
      return invalid("INVALID_VALUE", 'The fake serves object_types ["ITEM"] only.', "object_types")
    const limit = Math.min(Math.max(Number(body.limit ?? 100) || 100, 1), 1000)
    const after = decodeCursor(body.cursor)
    if (after === "invalid") return invalid("INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    const begin = body.begin_time === undefined ? null : parseTime(body.begin_time)
    if (body.begin_time !== undefined && begin === null)
      return invalid("INVALID_TIME", "begin_time must be an RFC 3339 timestamp.", "begin_time")
    const withDeleted = body.include_deleted_objects === true
    // An empty catalog was still "last updated" at some moment; later changes get later stamps.
    if (account.catalogLatest === 0) account.catalogLatest = stamp(account)
    const page = pageOf(
      account.stores.product,
      "created",
      false,
      (row) => (withDeleted || !row.deleted) && (begin === null || row.updated > begin),
      after,
      limit
    )
    return reply({
      objects: page.rows.map((r) => rawOf(account, "product", r)),
      cursor: page.cursor,
      latest_time: iso(account.catalogLatest)
    })
  }

  const orderStates = new Set(["OPEN", "COMPLETED", "CANCELED", "DRAFT"])
  const searchOrders = (account: Account, body: Record<string, unknown>): Reply => {
    const ids = body.location_ids
    if (!Array.isArray(ids) || ids.length === 0)
      return invalid("MISSING_REQUIRED_PARAMETER", "Field must be set", "location_ids")
    if (ids.length > 10) return invalid("INVALID_VALUE", "At most 10 location_ids are allowed.", "location_ids")
    const known = new Set(account.locations.map((l) => l.id))
    const unknown = ids.find((id) => !known.has(id))
    if (unknown !== undefined)
      return json(
        403,
        squareError("AUTHENTICATION_ERROR", "FORBIDDEN", `Location ${String(unknown)} is not one of the seller's.`)
      )
    const limit = Math.min(Math.max(Number(body.limit ?? 500) || 500, 1), 1000)
    const after = decodeCursor(body.cursor)
    if (after === "invalid") return invalid("INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    const query = (body.query ?? {}) as {
      filter?: { state_filter?: { states?: unknown }; date_time_filter?: Record<string, unknown> }
      sort?: { sort_field?: unknown; sort_order?: unknown }
    }
    const sortField = query.sort?.sort_field ?? "CREATED_AT"
    if (sortField !== "CREATED_AT" && sortField !== "UPDATED_AT")
      return invalid("INVALID_VALUE", "The fake sorts orders by CREATED_AT or UPDATED_AT only.", "sort_field")
    const dateFilter = query.filter?.date_time_filter ?? {}
    const filtered = Object.keys(dateFilter)
    const expected = sortField === "CREATED_AT" ? "created_at" : "updated_at"
    if (filtered.some((f) => f !== expected))
      return invalid(
        "INVALID_VALUE",
        "A DateTimeFilter must filter on the timestamp field the results are sorted by.",
        "date_time_filter"
      )
    const wanted = query.filter?.state_filter?.states
    const stateSet = new Set(Array.isArray(wanted) ? wanted.map(String) : orderStates)
    const time = range(dateFilter[expected])
    const locations = new Set(ids.map(String))
    const order: Order = sortField === "CREATED_AT" ? "created" : "updated"
    const page = pageOf(
      account.stores.order,
      order,
      query.sort?.sort_order !== "ASC",
      (row) =>
        locations.has(String(row.location)) &&
        stateSet.has(String(row.state)) &&
        within(order === "created" ? row.created : row.updated, time),
      after,
      limit
    )
    return reply(
      body.return_entries === true
        ? {
            order_entries: page.rows.map((r) => ({
              order_id: r.id,
              location_id: r.location,
              version: 1 + r.changes
            })),
            cursor: page.cursor
          }
        : { orders: page.rows.map((r) => rawOf(account, "order", r)), cursor: page.cursor }
    )
  }

  const listPayments = (account: Account, url: URL): Reply => {
    const q = url.searchParams
    const limit = Math.min(Math.max(Number(q.get("limit") ?? 100) || 100, 1), 100)
    const after = decodeCursor(q.get("cursor"))
    if (after === "invalid") return invalid("INVALID_CURSOR", "The pagination cursor is invalid.", "cursor")
    const sortField = q.get("sort_field") ?? "CREATED_AT"
    if (sortField !== "CREATED_AT" && sortField !== "UPDATED_AT")
      return invalid("INVALID_VALUE", "The fake sorts payments by CREATED_AT or UPDATED_AT only.", "sort_field")
    const at = now()
    // ListPayments reads the last year by `created_at` unless told otherwise (PROVIDERS.md §3).
    const begin = parseTime(q.get("begin_time")) ?? at - 365 * DAY
    const end = parseTime(q.get("end_time")) ?? Number.POSITIVE_INFINITY
    const updated = { start: parseTime(q.get("updated_at_begin_time")), end: parseTime(q.get("updated_at_end_time")) }
    const locationId = q.get("location_id")
    const page = pageOf(
      account.stores.payment,
      sortField === "CREATED_AT" ? "created" : "updated",
      q.get("sort_order") !== "ASC",
      (row) =>
        row.created >= begin &&
        row.created <= end &&
        within(row.updated, updated) &&
        (locationId === null || row.location === locationId),
      after,
      limit
    )
    return reply({ payments: page.rows.map((r) => rawOf(account, "payment", r)), cursor: page.cursor })
  }

  /** Square leaves out empty lists and absent cursors; `date` is the fake's clock. */
  const reply = (body: Record<string, unknown>) =>
    json(
      200,
      Object.fromEntries(
        Object.entries(body).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
      ),
      { date: new Date(now()).toUTCString() }
    )

  const injected = (account: string): Reply | null => {
    if (injection === null) return null
    const { spec } = injection
    if (spec.accountId !== undefined && spec.accountId !== account) return null
    injection.remaining -= 1
    if (injection.remaining <= 0) injection = null
    return failureFor(spec.status, spec.retryAfterSeconds)
  }

  const failureFor = (status: number, retryAfterSeconds?: number): Reply => {
    if (status === 429)
      return json(
        429,
        squareError("RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited."),
        retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) }
      )
    if (status === 401)
      return json(
        401,
        squareError(
          "AUTHENTICATION_ERROR",
          "UNAUTHORIZED",
          'The `Authorization` http header of your request was incorrect or expired. The header value is expected to be of the format "Bearer TOKEN" (without quotation marks), where TOKEN is a valid access token (e.g. "Bearer ABC123def456GHI789jkl0"). For more information, see https://developer.squareup.com/docs/build-basics/using-rest-api#__set-the-headers__ .'
        )
      )
    if (status === 403)
      return json(403, squareError("AUTHENTICATION_ERROR", "FORBIDDEN", "You are not allowed to access this resource."))
    if (status === 404)
      return json(404, squareError("INVALID_REQUEST_ERROR", "NOT_FOUND", "The requested resource was not found."))
    if (status === 503)
      return json(503, squareError("API_ERROR", "SERVICE_UNAVAILABLE", "The service is temporarily unavailable."))
    if (status === 504) return json(504, squareError("API_ERROR", "GATEWAY_TIMEOUT", "The gateway timed out."))
    if (status >= 500)
      return json(status, squareError("API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error occurred."))
    return json(status, squareError("INVALID_REQUEST_ERROR", "BAD_REQUEST", "The request was rejected."))
  }

  const rateLimited = (account: Account): Reply | null => {
    const limit = account.rateLimit
    if (limit === null) return null
    const at = now()
    while (account.accepted.length > 0 && account.accepted[0]! <= at - limit.windowMs) account.accepted.shift()
    if (account.accepted.length < limit.limit) {
      account.accepted.push(at)
      return null
    }
    const wait = Math.max(1, Math.ceil((account.accepted[0]! + limit.windowMs - at) / 1000))
    return failureFor(429, wait)
  }

  interface Served {
    readonly route: string
    readonly url: URL
    readonly body: () => Record<string, unknown>
    readonly merchant: string
    readonly scopes: ReadonlyArray<string>
  }
  interface Route {
    /** The OAuth permission the call needs; null: any token. */
    readonly scope: string | null
    readonly answer: (account: Account, request: Served) => Reply
  }

  const routes: Record<string, Route> = {
    "GET /v2/customers": { scope: scopeOf.customer, answer: (a, r) => listCustomers(a, r.url) },
    "POST /v2/customers/search": { scope: scopeOf.customer, answer: (a, r) => searchCustomers(a, r.body()) },
    "POST /v2/catalog/search": { scope: scopeOf.product, answer: (a, r) => searchCatalog(a, r.body()) },
    "POST /v2/orders/search": { scope: scopeOf.order, answer: (a, r) => searchOrders(a, r.body()) },
    "GET /v2/payments": { scope: scopeOf.payment, answer: (a, r) => listPayments(a, r.url) },
    "GET /v2/locations": { scope: null, answer: (a) => reply({ locations: a.locations }) },
    "POST /v2/customers": { scope: "CUSTOMERS_WRITE", answer: (a, r) => createCustomer(a, r.body()) },
    "POST /v2/catalog/batch-upsert": { scope: "ITEMS_WRITE", answer: (a, r) => batchUpsert(a, r.body()) },
    "POST /v2/catalog/batch-retrieve": { scope: scopeOf.product, answer: (a, r) => batchRetrieve(a, r.body()) },
    "POST /v2/catalog/batch-delete": { scope: "ITEMS_WRITE", answer: (a, r) => batchDelete(a, r.body()) },
    "POST /v2/inventory/changes/batch-create": {
      scope: "INVENTORY_WRITE",
      answer: (a, r) => batchChangeInventory(a, r.body())
    }
  }

  /** `GET`, `PUT` and `DELETE /v2/customers/{customer_id}`. */
  const customerRoute = (route: string): Route | undefined => {
    const match = /^(GET|PUT|DELETE) \/v2\/customers\/([^/]+)$/.exec(route)
    if (match === null) return undefined
    const id = decodeURIComponent(match[2]!)
    if (match[1] === "GET") return { scope: scopeOf.customer, answer: (a) => getCustomer(a, id) }
    if (match[1] === "PUT") return { scope: "CUSTOMERS_WRITE", answer: (a, r) => updateCustomer(a, id, r.body()) }
    return { scope: "CUSTOMERS_WRITE", answer: (a, r) => deleteCustomer(a, id, r.url) }
  }

  /**
   * Answers a data route for a merchant whose token the caller has checked; null for any other route.
   * Order: counted, injected failure, rate limit, scope, answer.
   */
  const serve = (request: Served): Reply | null => {
    const route = routes[request.route] ?? customerRoute(request.route)
    if (route === undefined) return null
    const account = accountOf(request.merchant)
    account.requests.push({ at: now(), path: request.route })
    const failed = injected(request.merchant) ?? rateLimited(account)
    if (failed !== null) return failed
    if (route.scope !== null && !request.scopes.includes(route.scope))
      return json(
        403,
        squareError(
          "AUTHENTICATION_ERROR",
          "INSUFFICIENT_SCOPES",
          `The merchant has not given your application sufficient permissions to do this. Missing ${route.scope}.`
        )
      )
    return route.answer(account, request)
  }

  return {
    serve,
    /** Waits `setDataLatency` on data routes. */
    delay: async (url: URL) => {
      if (latencyMs > 0 && url.pathname.startsWith("/v2/") && !url.pathname.includes("custom-attribute"))
        await new Promise((resolve) => setTimeout(resolve, latencyMs))
    },
    controls: {
      /**
       * Adds `count` records created over the past 400 days (older than any pass a test starts now), last change
       * within the following week and at least two days ago.
       */
      seed: (accountId: string, entity: FakeSquareEntity, count: number) => {
        const account = accountOf(accountId)
        const store = account.stores[entity]
        const end = now() - 2 * DAY
        const start = end - 398 * DAY
        const step = Math.max(1, Math.floor((end - start) / Math.max(count, 1)))
        const appending = store.sorted.length === 0 || store.sorted.at(-1)!.created < start
        for (let n = 0; n < count; n++) {
          const created = start + n * step
          const row = newRow(account, entity, created, Math.min(created + (n % 7) * 3_600_000, end))
          store.sorted.push(row)
          store.byId.set(row.id, row)
          if (entity === "product") account.catalogLatest = Math.max(account.catalogLatest, row.updated)
        }
        if (!appending) store.sorted.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      },
      /** Creates (no `id`, or an unknown one) or changes a record now; `fields` are merged over it. Returns it. */
      upsertRecord: (
        accountId: string,
        entity: FakeSquareEntity,
        fields: Record<string, unknown> & { readonly id?: string }
      ): Record<string, unknown> => {
        const account = accountOf(accountId)
        const store = account.stores[entity]
        const at = stamp(account)
        const existing = fields.id === undefined ? undefined : store.byId.get(fields.id)
        if (existing?.deleted === true) throw new Error(`${entity} ${existing.id} is deleted`)
        if (entity === "product") account.catalogLatest = at
        if (existing !== undefined) {
          change(existing, fields, at)
          return rawOf(account, entity, existing)
        }
        const row = newRow(account, entity, at, at, fields.id)
        if (Object.keys(fields).some((k) => k !== "id")) {
          change(row, fields, at)
          row.changes = 0
        }
        insert(store, row)
        return rawOf(account, entity, row)
      },
      /** Deletes as Square does: a customer vanishes, a catalog item becomes an `is_deleted` tombstone. */
      deleteRecord: (accountId: string, entity: FakeSquareEntity, id: string) => {
        const account = accountOf(accountId)
        const store = account.stores[entity]
        const row = store.byId.get(id)
        if (row === undefined || row.deleted) throw new Error(`no live ${entity} ${id}`)
        if (entity === "customer") {
          store.byId.delete(id)
          store.sorted.splice(store.sorted.indexOf(row), 1)
        } else if (entity === "product") {
          const at = stamp(account)
          row.deleted = true
          row.updated = at
          row.changes += 1
          account.catalogLatest = at
        } else {
          throw new Error(`Square cannot delete ${entity}s (cancel an order with upsertRecord({ state: "CANCELED" }))`)
        }
      },
      /** Live records in creation order, as the provider answers them. */
      records: (accountId: string, entity: FakeSquareEntity): ReadonlyArray<Record<string, unknown>> => {
        const account = accountOf(accountId)
        return account.stores[entity].sorted.filter((r) => !r.deleted).map((r) => rawOf(account, entity, r))
      },
      /** Adds `count` locations to the merchant (orders are spread over all of them). */
      addLocations: (accountId: string, count: number) => {
        const account = accountOf(accountId)
        for (let n = 0; n < count; n++) {
          const index = account.locations.length
          account.locations.push(location(accountId, `L${idOf(base32, 12, index + 1, account.salt)}`, index))
        }
        return account.locations.map((l) => String(l.id))
      },
      /** The next data calls (or `times` of them) fail with `status`. */
      inject: (spec: FakeSquareInjection) => {
        injection = { spec, remaining: spec.times ?? Number.POSITIVE_INFINITY }
      },
      clearInjections: () => {
        injection = null
      },
      /** Every data answer waits this long first. */
      setDataLatency: (ms: number) => {
        latencyMs = ms
      },
      /** Data calls seen for the merchant, with the fake's time. */
      dataRequests: (accountId: string): ReadonlyArray<FakeSquareRequest> => [...accountOf(accountId).requests],
      /** Above `limit` calls per sliding `windowMs`, answers 429 with `Retry-After`; null removes the limit. */
      setRateLimit: (accountId: string, limit: { readonly limit: number; readonly windowMs: number } | null) => {
        const account = accountOf(accountId)
        account.rateLimit = limit
        account.accepted.length = 0
      },
      /** Objects created through the write endpoints (customers, catalog ITEMs): never more than one per push. */
      creations: (accountId: string, entity: FakeSquareEntity): number => accountOf(accountId).created[entity],
      /** The IN_STOCK count of an item variation at a location (default: the seller's first), or null if never counted. */
      inventoryCount: (accountId: string, catalogObjectId: string, locationId?: string): InventoryCount | null => {
        const account = accountOf(accountId)
        const at = locationId ?? String(account.locations[0]!.id)
        return account.counts.get(countKey(catalogObjectId, at))?.count ?? null
      }
    }
  }
}
