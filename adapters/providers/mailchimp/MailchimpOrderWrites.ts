import { Effect } from "effect"
import { ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import type { OutboundItem, WriteOutcome, WriteRequest } from "../../../ports/sync/ProviderWrites.ts"
import type { MarketingClient } from "./MailchimpClient.ts"

type Sdk = <A>(name: string, run: () => Promise<A>) => Effect.Effect<A, ProviderCallFailed>

/** Orders written at once: half of Mailchimp's 10 connections per key, as for members. */
const concurrency = 5

/** The store of an audience's orders: one per audience, so a venue choosing another audience gets another store. */
export const storeIdOf = (listId: string) => `isvc-${listId}`

const stringOf = (value: unknown) => (typeof value === "string" && value !== "" ? value : null)
const objectOf = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
const linesOf = (order: Record<string, unknown>): ReadonlyArray<Record<string, unknown>> =>
  Array.isArray(order.lines) ? order.lines.map(objectOf) : []

const isRejected = (error: unknown): error is ProviderCallFailed =>
  error instanceof ProviderCallFailed && error.kind === "rejected"
const isNotFound = (error: unknown): error is ProviderCallFailed =>
  error instanceof ProviderCallFailed && error.kind === "not_found"
/** Mailchimp's 400 for an id it has: "An order with the provided ID already exists in the account." */
const alreadyExists = (error: unknown): boolean => isRejected(error) && /already exists/i.test(error.message)

/** An order's request, or why it makes none. */
type Plan =
  | {
      readonly item: OutboundItem
      readonly body: Record<string, unknown>
      readonly lineIds: ReadonlySet<string>
      readonly productIds: ReadonlyArray<string>
    }
  | { readonly item: OutboundItem; readonly failed: string }

/**
 * The order as Mailchimp takes it: the platform's id, the buyer's address from the platform's customer (Mailchimp
 * keys its customers by id but needs the address to find the member), `opt_in_status: false` — Mailchimp applies it
 * only to people it adds, so an order never subscribes anyone; consent stays the contact sync's — and the lines with a
 * product, numbered by their place in the order (fees and discounts without a product stay in `order_total` only).
 */
const planOf = (item: OutboundItem, buyers: ReadonlyMap<string, Record<string, unknown>>): Plan => {
  const fields = item.fields ?? {}
  const customer = objectOf(fields.customer)
  const customerId = stringOf(customer.id)
  if (customerId === null) return { item, failed: "the order names no customer: a Mailchimp order needs its buyer" }
  const email = stringOf(buyers.get(customerId)?.email)
  if (email === null) return { item, failed: `the order's customer ${customerId} has no email address on the platform` }
  const lines = linesOf(fields).flatMap((line, i) => {
    const productId = stringOf(line.product_id)
    return productId === null
      ? []
      : [
          {
            ...line,
            id: String(i + 1),
            product_id: productId,
            product_variant_id: stringOf(line.product_variant_id) ?? productId
          }
        ]
  })
  if (lines.length === 0)
    return { item, failed: "the order has no line with a product: Mailchimp takes orders of products only" }
  return {
    item,
    body: {
      ...fields,
      id: item.platformId,
      customer: { ...customer, email_address: email, opt_in_status: false },
      lines
    },
    lineIds: new Set(lines.map((l) => l.id)),
    productIds: [...new Set(lines.map((l) => l.product_id))]
  }
}

const failedOutcome = (item: OutboundItem, reason: string): WriteOutcome => ({
  platformId: item.platformId,
  outcome: "failed",
  reason
})

/**
 * Platform orders as Mailchimp e-commerce orders, in the store of the connection's audience (`isvc-<audience id>`,
 * added on first use with the first order's currency). Mailchimp orders and products take the id the caller gives,
 * which is the idempotency: an order is `POST`ed under the platform's id, and a `POST` answered "already exists" (a
 * crash between Mailchimp's answer and our commit) becomes the `PATCH` of that order — one order per platform order
 * whatever is replayed. An update `PATCH`es the order (Mailchimp merges lines by id) and deletes the lines it no longer
 * has; a deletion deletes the order (Mailchimp has no archive for orders). Each product an order names is added to the
 * store once, titled from the platform's product, its one variant the product itself.
 */
export const mailchimpOrderWrites = (sdk: Sdk) => {
  /** Stores and products known to exist (`account/store`, `account/store/product`): a call saved per write. */
  const knownStores = new Set<string>()
  const knownProducts = new Set<string>()

  /** A store gone from Mailchimp took its products with it. */
  const forgetStore = (scope: string) => {
    knownStores.delete(scope)
    for (const key of knownProducts) if (key.startsWith(`${scope}/`)) knownProducts.delete(key)
  }

  const ensureStore = <E>(
    request: WriteRequest<E>,
    client: MarketingClient,
    scope: string,
    listId: string,
    currency: string
  ) => {
    const storeId = storeIdOf(listId)
    if (knownStores.has(scope)) return Effect.void
    const add = () =>
      request
        .call(
          "write_store",
          sdk("POST /ecommerce/stores", () =>
            client.ecommerce.addStore({
              id: storeId,
              list_id: listId,
              name: "Ticket sales",
              currency_code: currency,
              platform: "integration-service"
            })
          )
        )
        .pipe(Effect.catchIf(alreadyExists, () => Effect.succeed({})))
    return request
      .call(
        "read_store",
        sdk("GET /ecommerce/stores/{id}", () => client.ecommerce.getStore(storeId, { fields: ["id"] }))
      )
      .pipe(
        Effect.catchIf(isNotFound, add),
        Effect.tap(() => Effect.sync(() => knownStores.add(scope)))
      )
  }

  /** Adds the products not yet known; answers the refusal of each one Mailchimp would not take. */
  const ensureProducts = Effect.fnUntraced(function* <E>(
    request: WriteRequest<E>,
    client: MarketingClient,
    scope: string,
    storeId: string,
    productIds: ReadonlyArray<string>
  ) {
    const wanted = productIds.filter((id) => !knownProducts.has(`${scope}/${id}`))
    const refused = new Map<string, string>()
    if (wanted.length === 0) return refused
    const records = yield* request.recordsOf("product", wanted)
    yield* Effect.forEach(
      wanted,
      (id) => {
        const title = stringOf(records.get(id)?.name) ?? `Product ${id}`
        return request
          .call(
            "write_product",
            sdk("POST /ecommerce/stores/{id}/products", () =>
              client.ecommerce.addStoreProduct(storeId, { id, title, variants: [{ id, title }] })
            )
          )
          .pipe(
            Effect.catchIf(alreadyExists, () => Effect.succeed({})),
            Effect.andThen(Effect.sync(() => knownProducts.add(`${scope}/${id}`))),
            Effect.catchIf(isRejected, (refusal) => Effect.sync(() => refused.set(id, refusal.message)))
          )
      },
      { concurrency, discard: true }
    )
    return refused
  })

  const writeOne = <E>(request: WriteRequest<E>, client: MarketingClient, storeId: string, plan: Plan) => {
    if ("failed" in plan) return Effect.succeed(failedOutcome(plan.item, plan.failed))
    const { item, body, lineIds } = plan
    const done = (outcome: "created" | "updated", answer: Record<string, unknown>): WriteOutcome => ({
      platformId: item.platformId,
      outcome,
      externalId: item.platformId,
      raw: answer
    })
    const post = () =>
      request
        .call(
          "write_order",
          sdk("POST /ecommerce/stores/{id}/orders", () => client.ecommerce.addStoreOrder(storeId, body))
        )
        .pipe(Effect.map((answer) => done("created", answer)))
    const update = (outcome: "created" | "updated") =>
      Effect.gen(function* () {
        const { id: _, ...patch } = body
        const answer = yield* request.call(
          "write_order",
          sdk("PATCH /ecommerce/stores/{id}/orders/{order_id}", () =>
            client.ecommerce.updateOrder(storeId, item.platformId, patch)
          )
        )
        const stale = linesOf(answer).flatMap((line) => {
          const id = stringOf(line.id)
          return id === null || lineIds.has(id) ? [] : [id]
        })
        yield* Effect.forEach(
          stale,
          (lineId) =>
            request
              .call(
                "write_order",
                sdk("DELETE /ecommerce/stores/{id}/orders/{order_id}/lines/{line_id}", () =>
                  client.ecommerce.deleteOrderLineItem(storeId, item.platformId, lineId)
                )
              )
              .pipe(Effect.catchIf(isNotFound, () => Effect.void)),
          { discard: true }
        )
        return done(outcome, { ...answer, lines: linesOf(answer).filter((l) => lineIds.has(String(l.id))) })
      })
    const linkedHere = item.link !== null && (stringOf(item.link.raw.store_id) ?? storeId) === storeId
    const written = linkedHere
      ? update("updated").pipe(Effect.catchIf(isNotFound, post))
      : post().pipe(Effect.catchIf(alreadyExists, () => update("created")))
    return written.pipe(Effect.catchIf(isRejected, (refusal) => Effect.succeed(failedOutcome(item, refusal.message))))
  }

  const archiveOne = <E>(request: WriteRequest<E>, client: MarketingClient, storeId: string, item: OutboundItem) => {
    const link = item.link
    if (link === null)
      return Effect.succeed(failedOutcome(item, "a deletion of an order never pushed to Mailchimp: nothing to delete"))
    const store = stringOf(link.raw.store_id) ?? storeId
    return request
      .call(
        "archive_order",
        sdk("DELETE /ecommerce/stores/{id}/orders/{order_id}", () =>
          client.ecommerce.deleteOrder(store, link.externalId)
        )
      )
      .pipe(
        // Already gone (deleted in Mailchimp, or its store with it): what the deletion wanted holds.
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.map(
          (): WriteOutcome => ({
            platformId: item.platformId,
            outcome: "archived",
            externalId: link.externalId,
            raw: { ...link.raw, deleted: true }
          })
        )
      )
  }

  const write = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, client: MarketingClient, listId: string) {
    const storeId = storeIdOf(listId)
    const scope = `${request.credential.accountId ?? client.basePath}/${storeId}`
    const live = request.items.filter((item) => !item.deleted)
    const buyerIds = [...new Set(live.flatMap((item) => stringOf(objectOf(item.fields?.customer).id) ?? []))]
    // The order names a platform customer; a venue that keeps its buyers as contacts only is looked up there.
    const customers = yield* request.recordsOf("customer", buyerIds)
    const unknown = buyerIds.filter((id) => !customers.has(id))
    const contacts = unknown.length === 0 ? new Map() : yield* request.recordsOf("contact", unknown)
    const buyers = new Map([...contacts, ...customers])
    const plans = live.map((item) => planOf(item, buyers))

    const firstCurrency = plans.flatMap((p) => ("failed" in p ? [] : [stringOf(p.body.currency_code)]))[0]
    if (plans.some((p) => !("failed" in p))) yield* ensureStore(request, client, scope, listId, firstCurrency ?? "USD")
    const refused = yield* ensureProducts(request, client, scope, storeId, [
      ...new Set(plans.flatMap((p) => ("failed" in p ? [] : p.productIds)))
    ])
    const ready = plans.map((plan): Plan => {
      if ("failed" in plan) return plan
      const product = plan.productIds.find((id) => refused.has(id))
      return product === undefined
        ? plan
        : { item: plan.item, failed: `its product ${product} was refused: ${refused.get(product)}` }
    })
    const outcomes = yield* Effect.forEach(ready, (plan) => writeOne(request, client, storeId, plan), {
      concurrency
    }).pipe(
      // The store itself is gone (deleted in Mailchimp): the write fails, and the next one adds the store again.
      Effect.tapError((error) => (isNotFound(error) ? Effect.sync(() => forgetStore(scope)) : Effect.void))
    )
    for (const [plan, outcome] of ready.map((p, i) => [p, outcomes[i]!] as const))
      if (outcome.outcome === "failed" && !("failed" in plan))
        // A product deleted in Mailchimp since: added again on the next push.
        for (const id of plan.productIds) knownProducts.delete(`${scope}/${id}`)
    const archived = yield* Effect.forEach(
      request.items.filter((item) => item.deleted),
      (item) => archiveOne(request, client, storeId, item),
      { concurrency }
    )
    return [...outcomes, ...archived]
  })

  return { write }
}
