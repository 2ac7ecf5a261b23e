import { json, type Reply } from "./FakeHttp.ts"
import { mailchimpProblems, type Problem } from "./FakeMailchimpProblems.ts"

/**
 * Mailchimp's e-commerce stores, products and orders (Marketing API 3.0 `/ecommerce/stores…`, PROVIDERS.md §1c and
 * §5), the parts a store-less platform writes: stores (`GET`, `POST`), products (`POST`, `GET`), orders (`POST`,
 * `GET`, `PATCH`, `DELETE`) and order lines (`DELETE`). Ids are the caller's: a `POST` of a known id is refused with
 * Mailchimp's "already exists" 400, which is what makes a replayed write find its first result. An order's products
 * must be in its store (Mailchimp's "A product with the provided ID does not exist…"); a new customer needs an
 * address; `lines: []` is answered 404, as Mailchimp does. `PATCH` merges lines by id (a line it does not name stays).
 */
export interface FakeOrder {
  readonly id: string
  readonly store_id: string
  readonly customer: Record<string, unknown>
  readonly currency_code: string
  readonly order_total: number
  readonly financial_status?: string
  readonly processed_at_foreign?: string
  readonly lines: ReadonlyArray<FakeOrderLine>
  readonly [field: string]: unknown
}

export interface FakeOrderLine {
  readonly id: string
  readonly product_id: string
  readonly product_variant_id: string
  readonly quantity: number
  readonly price: number
  readonly product_title?: string
}

interface Store {
  readonly body: Record<string, unknown>
  readonly products: Map<string, Record<string, unknown>>
  readonly customers: Map<string, Record<string, unknown>>
  readonly orders: Map<string, FakeOrder>
}

export interface FakeMailchimpEcommerceOptions {
  readonly now: () => number
  readonly problem: Problem
  /** The account's audiences: a store's `list_id` must be one. */
  readonly audiences: () => ReadonlyArray<string>
}

const objectOf = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
const isText = (value: unknown) => typeof value === "string" && value !== ""

export const fakeMailchimpEcommerce = (options: FakeMailchimpEcommerceOptions) => {
  const { problem } = options
  const { notFound, unvalidated, jsonParseError } = mailchimpProblems(problem)
  /** `account/store id` → store. */
  const stores = new Map<string, Store>()
  const counts = new Map<string, { stores: number; products: number; orders: number }>()
  const countsOf = (accountId: string) => {
    let found = counts.get(accountId)
    if (found === undefined) {
      found = { stores: 0, products: 0, orders: 0 }
      counts.set(accountId, found)
    }
    return found
  }
  const instant = () => new Date(options.now()).toISOString().replace(/\.\d{3}Z$/, "+00:00")

  const badRequest = (detail: string) => problem(400, "Bad Request", detail)
  const required = (body: Record<string, unknown>, fields: ReadonlyArray<string>, prefix = "") =>
    fields.filter((f) => body[f] === undefined || body[f] === null || body[f] === "").map((f) => `${prefix}${f}`)
  const missing = (fields: ReadonlyArray<string>) =>
    unvalidated(fields.map((field) => ({ field, message: "This value should not be blank." })))

  const addStore = (accountId: string, body: Record<string, unknown>): Reply => {
    const absent = required(body, ["id", "list_id", "name", "currency_code"])
    if (absent.length > 0) return missing(absent)
    if (!options.audiences().includes(String(body.list_id)))
      return badRequest("The list_id provided does not belong to a list in this account.")
    const key = `${accountId}/${String(body.id)}`
    if (stores.has(key)) return badRequest("A store with the provided ID already exists.")
    const stored = { ...body, created_at: instant(), updated_at: instant() }
    stores.set(key, { body: stored, products: new Map(), customers: new Map(), orders: new Map() })
    countsOf(accountId).stores += 1
    return json(200, stored)
  }

  const addProduct = (accountId: string, store: Store, body: Record<string, unknown>): Reply => {
    const variants = Array.isArray(body.variants) ? body.variants.map((v) => objectOf(v) ?? {}) : []
    const absent = [
      ...required(body, ["id", "title"]),
      ...(variants.length === 0 ? ["variants"] : []),
      ...variants.flatMap((v, i) => required(v, ["id", "title"], `variants.item:${i}.`))
    ]
    if (absent.length > 0) return missing(absent)
    const id = String(body.id)
    if (store.products.has(id)) return badRequest("A product with the provided ID already exists in the account.")
    const stored = { ...body, variants, published_at_foreign: "", _store: String(store.body.id) }
    store.products.set(id, stored)
    countsOf(accountId).products += 1
    return json(200, stored)
  }

  /** The order's lines as stored, or the refusal of the first one that cannot be. */
  const linesOf = (store: Store, raw: unknown): ReadonlyArray<FakeOrderLine> | Reply => {
    const lines = Array.isArray(raw) ? raw.map((l) => objectOf(l) ?? {}) : []
    const absent = lines.flatMap((l, i) =>
      required(l, ["id", "product_id", "product_variant_id", "quantity", "price"], `lines.item:${i}.`)
    )
    if (absent.length > 0) return missing(absent)
    for (const [i, l] of lines.entries())
      if (!Number.isInteger(l.quantity))
        return unvalidated([{ field: `lines.item:${i}.quantity`, message: "This value should be of type integer." }])
    for (const l of lines) {
      const product = store.products.get(String(l.product_id))
      if (product === undefined)
        return badRequest("A product with the provided ID does not exist in the account for this list.")
      const variants = product.variants as ReadonlyArray<Record<string, unknown>>
      if (!variants.some((v) => v.id === l.product_variant_id))
        return badRequest("A product variant with the provided ID does not exist in the account for this list.")
    }
    return lines.map((l) => ({
      id: String(l.id),
      product_id: String(l.product_id),
      product_variant_id: String(l.product_variant_id),
      quantity: Number(l.quantity),
      price: Number(l.price),
      product_title: String(store.products.get(String(l.product_id))?.title ?? "")
    }))
  }

  /** The store's customer for the order's `customer`: a new one needs an address. */
  const customerOf = (store: Store, raw: unknown): Record<string, unknown> | Reply => {
    const customer = objectOf(raw) ?? {}
    if (!isText(customer.id)) return missing(["customer.id"])
    const known = store.customers.get(String(customer.id))
    if (known === undefined && !isText(customer.email_address)) return missing(["customer.email_address"])
    const stored = {
      ...known,
      ...customer,
      opt_in_status: known?.opt_in_status ?? customer.opt_in_status ?? false,
      updated_at: instant()
    }
    store.customers.set(String(customer.id), stored)
    return stored
  }

  const isReply = (value: unknown): value is Reply => typeof (value as Reply).status === "number"

  const addOrder = (accountId: string, store: Store, body: Record<string, unknown>): Reply => {
    if (Array.isArray(body.lines) && body.lines.length === 0) return notFound()
    const absent = required(body, ["id", "customer", "currency_code", "order_total", "lines"])
    if (absent.length > 0) return missing(absent)
    if (typeof body.order_total !== "number")
      return unvalidated([{ field: "order_total", message: "This value should be of type number." }])
    const id = String(body.id)
    if (store.orders.has(id))
      return badRequest(
        "We were unable to process the request. An order with the provided ID already exists in the account."
      )
    const lines = linesOf(store, body.lines)
    if (isReply(lines)) return lines
    const customer = customerOf(store, body.customer)
    if (isReply(customer)) return customer
    const order: FakeOrder = {
      ...body,
      id,
      store_id: String(store.body.id),
      customer,
      currency_code: String(body.currency_code),
      order_total: body.order_total,
      lines,
      created_at: instant(),
      updated_at: instant()
    }
    store.orders.set(id, order)
    countsOf(accountId).orders += 1
    return json(200, order)
  }

  const patchOrder = (store: Store, id: string, body: Record<string, unknown>): Reply => {
    const known = store.orders.get(id)
    if (known === undefined) return notFound()
    let lines = known.lines
    if (body.lines !== undefined) {
      const changed = linesOf(store, body.lines)
      if (isReply(changed)) return changed
      const byId = new Map(known.lines.map((l) => [l.id, l]))
      for (const line of changed) byId.set(line.id, line)
      lines = [...byId.values()]
    }
    const customer = body.customer === undefined ? known.customer : customerOf(store, body.customer)
    if (isReply(customer)) return customer
    const order: FakeOrder = { ...known, ...body, id, store_id: known.store_id, customer, lines, updated_at: instant() }
    store.orders.set(id, order)
    return json(200, order)
  }

  const jsonBody = (text: string): Record<string, unknown> | undefined => {
    try {
      return objectOf(JSON.parse(text))
    } catch {
      return undefined
    }
  }

  /** Answers `/3.0/ecommerce/stores…`; undefined for any other path. */
  const respond = (accountId: string, method: string, url: URL, text = ""): Reply | undefined => {
    const [version, ecommerce, storesSegment, storeId, kind, id, sub, lineId, ...rest] = url.pathname
      .split("/")
      .filter((s) => s !== "")
      .map(decodeURIComponent)
    if (version !== "3.0" || ecommerce !== "ecommerce" || storesSegment !== "stores" || rest.length > 0)
      return undefined
    const body = method === "POST" || method === "PATCH" ? jsonBody(text) : {}
    if (body === undefined) return jsonParseError()
    if (storeId === undefined) return method === "POST" ? addStore(accountId, body) : undefined
    const store = stores.get(`${accountId}/${storeId}`)
    if (store === undefined) return notFound()
    if (kind === undefined) return method === "GET" ? json(200, store.body) : undefined
    if (kind === "products") {
      if (id === undefined) return method === "POST" ? addProduct(accountId, store, body) : undefined
      const product = store.products.get(id)
      return method === "GET" ? (product === undefined ? notFound() : json(200, product)) : undefined
    }
    if (kind !== "orders") return undefined
    if (id === undefined) return method === "POST" ? addOrder(accountId, store, body) : undefined
    const order = store.orders.get(id)
    if (sub === "lines" && lineId !== undefined && method === "DELETE") {
      if (order === undefined || !order.lines.some((l) => l.id === lineId)) return notFound()
      store.orders.set(id, { ...order, lines: order.lines.filter((l) => l.id !== lineId), updated_at: instant() })
      return { status: 204, headers: {}, body: "" }
    }
    if (sub !== undefined) return undefined
    if (method === "GET") return order === undefined ? notFound() : json(200, order)
    if (method === "PATCH") return patchOrder(store, id, body)
    if (method === "DELETE") {
      if (order === undefined) return notFound()
      store.orders.delete(id)
      return { status: 204, headers: {}, body: "" }
    }
    return undefined
  }

  const storeOf = (accountId: string, storeId: string) => {
    const store = stores.get(`${accountId}/${storeId}`)
    if (store === undefined) throw new Error(`no store ${storeId}`)
    return store
  }

  return {
    respond,
    controls: {
      /** The account's stores, as `GET /ecommerce/stores/{id}` answers each. */
      stores: (accountId: string) =>
        [...stores.entries()].filter(([key]) => key.startsWith(`${accountId}/`)).map(([, s]) => s.body),
      /** The store's orders, as `GET …/orders/{id}` answers each. */
      orders: (accountId: string, storeId: string): ReadonlyArray<FakeOrder> => [
        ...storeOf(accountId, storeId).orders.values()
      ],
      /** The store's products. */
      products: (accountId: string, storeId: string) => [...storeOf(accountId, storeId).products.values()],
      /** What writes added, per account: a replay must add none. */
      ecommerceCreations: (accountId: string) => ({ ...countsOf(accountId) }),
      /** Removes a store with everything in it (what a user deleting it in Mailchimp does). */
      deleteStore: (accountId: string, storeId: string) => {
        stores.delete(`${accountId}/${storeId}`)
      }
    }
  }
}
