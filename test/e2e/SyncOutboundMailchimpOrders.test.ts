import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { storeIdOf } from "../../adapters/providers/mailchimp/MailchimpOrderWrites.ts"
import {
  assertAllUnchanged,
  countsSince,
  outboundJobs,
  putRecords,
  removeRecord,
  startFullOutbound
} from "../support/OutboundTestApp.ts"
import { connectMailchimp } from "../support/SyncConnect.ts"
import { base, jobsSettled, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"

const tenant = "0e000000-0000-4000-8000-0000000000e1"
const venueId = "0e000000-1111-4000-8000-0000000000e1"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

const buyers = Array.from({ length: 50 }, (_, i) => ({
  id: `mo-buyer-${i}`,
  version: 1,
  data: { email: `buyer${i}@venue-mail.test`, givenName: `Buyer${i}` }
}))
const shows = Array.from({ length: 3 }, (_, i) => ({
  id: `mo-show-${i}`,
  version: 1,
  data: { name: `Show ${i}`, priceMinor: 2500 + i * 500, currency: "GBP" }
}))

/** Order `i` at `version`: one to three ticket lines and a booking fee (no product). */
const order = (i: number, version: number, extra = 0) => {
  const lines = [
    ...Array.from({ length: 1 + (i % 3) }, (_, k) => ({
      productId: `mo-show-${k}`,
      quantity: 1 + ((i + k + extra) % 4),
      unitPriceMinor: 2500 + k * 500
    })),
    { productId: null, quantity: 1, unitPriceMinor: 150, description: "Booking fee" }
  ]
  return {
    id: `mo-order-${i}`,
    version,
    data: {
      customerId: `mo-buyer-${i % 50}`,
      currency: "GBP",
      totalMinor: lines.reduce((sum, l) => sum + l.quantity * l.unitPriceMinor, 0),
      status: i % 10 === 0 ? "refunded" : "completed",
      placedAt: new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString(),
      lines
    }
  }
}
type Order = ReturnType<typeof order>

/** What the default outbound template and the writer make of a platform order at Mailchimp. */
const expected = (o: Order) => ({
  customer: [o.data.customerId, `buyer${Number(o.data.customerId.split("-").at(-1))}@venue-mail.test`],
  total: [o.data.totalMinor / 100, "GBP", o.data.status === "refunded" ? "refunded" : "paid"],
  lines: o.data.lines.flatMap((l, k) =>
    l.productId === null ? [] : [[String(k + 1), l.productId, l.quantity, l.unitPriceMinor / 100]]
  )
})
const held = (o: any) => ({
  customer: [o.customer.id, o.customer.email_address],
  total: [o.order_total, o.currency_code, o.financial_status],
  lines: o.lines.map((l: any) => [l.id, l.product_id, l.quantity, l.price])
})

layer(syncAppWith({ SYNC_OUTBOUND_DEBOUNCE: "3 seconds" }), { timeout: "300 seconds", excludeTestServices: true })(
  "outbound orders to Mailchimp e-commerce over HTTP",
  (it) => {
    it.effect(
      "1,000 orders, 10 % changed and 1 % deleted: the store equals the mapped platform, one order each; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { mailchimp } = yield* TestWorld
          const account = mailchimp.accountId
          const listId = mailchimp.audiences()[0]!.id
          const storeId = storeIdOf(listId)
          yield* connectMailchimp(admin, venueId, listId)
          const status = yield* call("GET", `${base}/mailchimp/sync/status?venueId=${venueId}`, { caller: admin })
          assert.deepStrictEqual(
            status.body.entities.map((e: any) => [e.entityType, e.state, e.outbound?.state]),
            [
              ["contact", "never_synced", "never_synced"],
              ["order", "outbound_only", "never_synced"]
            ],
            status.text
          )
          const refused = yield* call(
            "GET",
            `${base}/mailchimp/fields?venueId=${venueId}&entityType=order&direction=inbound`,
            { caller: admin }
          )
          assert.strictEqual(refused.status, 422, refused.text)

          // The buyers and shows are the platform's; Mailchimp takes neither as such, only through the orders.
          yield* putRecords(admin, venueId, "customer", buyers)
          yield* putRecords(admin, venueId, "product", shows)
          const platform = new Map(Array.from({ length: 1000 }, (_, i) => [i, order(i, 1)] as const))
          yield* putRecords(admin, venueId, "order", [...platform.values()])
          yield* jobsSettled("mailchimp", venueId, admin)
          const [first] = yield* outboundJobs("mailchimp", venueId, admin, "order")
          assert.deepStrictEqual(
            [first.status, first.counts.created, first.counts.failed],
            ["completed", 1000, 0],
            JSON.stringify(first)
          )
          const atMailchimp = () => new Map(mailchimp.orders(account, storeId).map((o) => [o.id, o]))
          const check = () => {
            const orders = atMailchimp()
            assert.strictEqual(orders.size, platform.size)
            for (const [, o] of platform) assert.deepStrictEqual(held(orders.get(o.id)), expected(o), o.id)
          }
          check()
          assert.deepStrictEqual(
            mailchimp.products(account, storeId).map((p: any) => [p.id, p.title]),
            shows.map((s) => [s.id, s.data.name])
          )
          assert.deepStrictEqual(mailchimp.ecommerceCreations(account), { stores: 1, products: 3, orders: 1000 })

          const changed = Array.from({ length: 100 }, (_, k) => order(k * 10 + 1, 2, 1))
          for (const o of changed) platform.set(Number(o.id.split("-").at(-1)), o)
          yield* putRecords(admin, venueId, "order", changed)
          const deleted = Array.from({ length: 10 }, (_, k) => k * 100 + 7)
          for (const i of deleted) {
            yield* removeRecord(admin, venueId, "order", `mo-order-${i}`)
            platform.delete(i)
          }
          yield* jobsSettled("mailchimp", venueId, admin)
          assert.deepStrictEqual(yield* countsSince("mailchimp", venueId, admin, "order", first), {
            created: 0,
            updated: 100,
            deleted: 10,
            failed: 0
          })
          check()
          assert.deepStrictEqual(mailchimp.ecommerceCreations(account), { stores: 1, products: 3, orders: 1000 })

          const quiet = mailchimp.dataRequests(account).length
          yield* startFullOutbound("mailchimp", admin, venueId, "order", "mailchimp-orders-full-1")
          yield* jobsSettled("mailchimp", venueId, admin)
          assert.strictEqual(
            mailchimp.dataRequests(account).length,
            quiet,
            "a pass over unchanged orders sends nothing"
          )
          const [full] = yield* outboundJobs("mailchimp", venueId, admin, "order")
          assertAllUnchanged(full, 1000)
        })
    )
  }
)
