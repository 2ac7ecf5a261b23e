import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { entitiesFor } from "../../domain/sync/SupportedPairs.ts"
import type { FakeSquareEntity } from "../sandbox/FakeSquare.ts"
import { connectOAuth } from "../support/SyncConnect.ts"
import { changeLines, latestJob, liveOf, readFeed, syncAppWith, syncToEnd } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "f2f2f2f2-0000-4000-8000-0000000000f2"
const venueId = "f2f2f2f2-1111-4000-8000-000000000001"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
/** The seller the venue signs in as: the fake binds the connection's token to it, so the data is seeded there. */
const merchant = "MLSYNCINBOUND01"
const entities = entitiesFor("square", "inbound") as ReadonlyArray<FakeSquareEntity>

const ids = (records: ReadonlyArray<Record<string, unknown>>) => records.map((r) => String(r.id)).sort()

layer(syncAppWith(), { timeout: "240 seconds", excludeTestServices: true })("square inbound sync over HTTP", (it) => {
  it.effect("full, incremental after creates, updates and deletions, full for vanished customers, then nothing", () =>
    Effect.gen(function* () {
      const { square } = yield* TestWorld
      yield* connectOAuth("square", admin, venueId, merchant)
      // Several pages each: customers and payments 100 a page, orders 500, catalog items 1,000.
      square.seed(merchant, "customer", 250)
      square.seed(merchant, "product", 2_100)
      square.seed(merchant, "order", 1_100)
      square.seed(merchant, "payment", 250)

      const fullJobs = yield* syncToEnd("square", admin, venueId, { mode: "full" }, "square-full-1")
      assert.deepStrictEqual(fullJobs.map((j) => j.entityType).sort(), [...entities].sort())
      const first = yield* readFeed("square", venueId, admin, null)
      assert.isTrue(first.changes.every((c) => c.change === "added" && c.mappingVersion === 0))
      for (const entity of entities)
        assert.deepStrictEqual([...liveOf(first.changes, entity).keys()].sort(), ids(square.records(merchant, entity)))

      // Mapped through the default templates.
      const mapped = (entity: string, id: string) => liveOf(first.changes, entity).get(id)!.data
      const customer = square.records(merchant, "customer")[7] as any
      assert.deepInclude(mapped("customer", customer.id), {
        id: customer.id,
        email: customer.email_address.toLowerCase(),
        givenName: customer.given_name,
        familyName: customer.family_name,
        phone: `+1212555${customer.phone_number.slice(-4)}`,
        marketingConsent: customer.preferences.email_unsubscribed ? "denied" : "unknown"
      })
      assert.deepInclude(mapped("customer", customer.id).address, {
        line1: customer.address.address_line_1,
        city: customer.address.locality,
        region: customer.address.administrative_district_level_1,
        postalCode: customer.address.postal_code,
        country: "US"
      })
      const product = square.records(merchant, "product")[1_500] as any
      const price = product.item_data.variations[0].item_variation_data.price_money
      assert.deepInclude(mapped("product", product.id), {
        id: product.id,
        name: product.item_data.name,
        description: product.item_data.description,
        priceMinor: price.amount,
        currency: "USD",
        active: true
      })
      const order = square.records(merchant, "order")[600] as any
      const orderData = mapped("order", order.id)
      assert.deepInclude(orderData, {
        id: order.id,
        customerId: order.customer_id,
        totalMinor: order.total_money.amount,
        currency: "USD",
        status: { OPEN: "open", COMPLETED: "completed", CANCELED: "cancelled" }[order.state as string]
      })
      assert.deepInclude(orderData.lines[0], {
        productId: order.line_items[0].catalog_object_id,
        quantity: Number(order.line_items[0].quantity),
        unitPriceMinor: order.line_items[0].base_price_money.amount,
        description: order.line_items[0].name
      })
      const payment = square.records(merchant, "payment")[3] as any
      assert.deepInclude(mapped("payment", payment.id), {
        id: payment.id,
        amountMinor: payment.amount_money.amount,
        currency: "USD",
        status: { APPROVED: "pending", COMPLETED: "succeeded", CANCELED: "cancelled", FAILED: "failed" }[
          payment.status as string
        ],
        method: "card"
      })

      // Changes at Square. Customers vanish when deleted, catalog items leave `is_deleted` tombstones; orders and
      // payments are never deleted (an order is cancelled instead).
      const before = Object.fromEntries(entities.map((e) => [e, square.records(merchant, e)])) as Record<
        FakeSquareEntity,
        ReadonlyArray<any>
      >
      const expected: Array<string> = []
      const create = (entity: FakeSquareEntity, fields: Record<string, unknown>) => {
        const made = square.upsertRecord(merchant, entity, fields)
        expected.push(`${entity} added ${made.id}`)
      }
      const update = (entity: FakeSquareEntity, at: number, fields: (raw: any) => Record<string, unknown>) => {
        const raw = before[entity][at]
        square.upsertRecord(merchant, entity, { id: raw.id, ...fields(raw) })
        expected.push(`${entity} updated ${raw.id}`)
      }
      for (let i = 0; i < 3; i++) create("customer", { given_name: `New${i}`, email_address: `new${i}@example.com` })
      update("customer", 10, () => ({ given_name: "Changed" }))
      update("customer", 200, () => ({ email_address: "moved@example.com" }))
      create("product", {})
      create("product", {})
      update("product", 5, (raw) => ({ item_data: { ...raw.item_data, name: "Renamed Item" } }))
      update("product", 2_000, (raw) => ({ item_data: { ...raw.item_data, description: "Now with a view" } }))
      square.deleteRecord(merchant, "product", before.product[42].id)
      expected.push(`product deleted ${before.product[42].id}`)
      create("order", {})
      const completed = before.order.findIndex((o) => o.state === "COMPLETED")
      update("order", completed, () => ({ state: "CANCELED" }))
      update("order", 1_000, () => ({ reference_id: "booking-moved" }))
      create("payment", {})
      create("payment", {})
      update("payment", 100, () => ({ status: "COMPLETED" }))
      const vanished = [before.customer[0].id, before.customer[120].id]
      for (const id of vanished) square.deleteRecord(merchant, "customer", id)

      const read = square.dataRequests(merchant).length
      yield* syncToEnd("square", admin, venueId, { mode: "incremental" }, "square-incremental-1")
      // Read as changes, not in full: customers searched by `updated_at`, not listed.
      const reads = square.dataRequests(merchant).slice(read)
      assert.deepStrictEqual(
        reads.map((r) => r.path).sort(),
        [
          "GET /v2/locations",
          "GET /v2/payments",
          "POST /v2/catalog/search",
          "POST /v2/customers/search",
          "POST /v2/orders/search"
        ],
        JSON.stringify(reads)
      )
      const second = yield* readFeed("square", venueId, admin, first.cursor)
      assert.deepStrictEqual(changeLines(second.changes), expected.sort())
      const renamed = second.changes.find((c) => c.externalId === before.product[5].id)
      assert.strictEqual(renamed.data.name, "Renamed Item")
      const cancelled = second.changes.find((c) => c.externalId === before.order[completed].id)
      assert.strictEqual(cancelled.data.status, "cancelled")

      // Deleted customers leave no trace an incremental read can show: the next full pass notices them missing.
      yield* syncToEnd("square", admin, venueId, { mode: "full" }, "square-full-2")
      const third = yield* readFeed("square", venueId, admin, second.cursor)
      assert.deepStrictEqual(changeLines(third.changes), vanished.map((id) => `customer deleted ${id}`).sort())
      const all = [...first.changes, ...second.changes, ...third.changes]
      for (const entity of entities)
        assert.deepStrictEqual([...liveOf(all, entity).keys()].sort(), ids(square.records(merchant, entity)))

      // Nothing changed: nothing written, nothing in the feed.
      yield* syncToEnd("square", admin, venueId, { mode: "incremental" }, "square-incremental-2")
      const after = yield* readFeed("square", venueId, admin, third.cursor)
      assert.deepStrictEqual(after.changes, [])
      for (const entity of entities) {
        const latest = yield* latestJob("square", venueId, admin, entity)
        assert.strictEqual(latest.status, "completed")
        assert.strictEqual(latest.mode, "incremental")
        assert.deepStrictEqual(
          [latest.counts.created, latest.counts.updated, latest.counts.deleted],
          [0, 0, 0],
          JSON.stringify(latest)
        )
      }
    })
  )
})
