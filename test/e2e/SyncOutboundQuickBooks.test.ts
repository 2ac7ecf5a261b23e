import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { QuickBooksObject } from "../sandbox/FakeQuickBooksData.ts"
import { latestOutbound, putRecords, removeRecord, startFullOutbound } from "../support/OutboundTestApp.ts"
import { connectOAuth } from "../support/SyncConnect.ts"
import { jobsSettled, readFeed, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "0d000000-0000-4000-8000-0000000000d4"
const venue = (n: number) => `0d000000-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
/** Each test's own QuickBooks company, so one test's names never meet another's. */
const realmOf = (n: number) => `93414500000040${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

const settle = (venueId: string) => jobsSettled("quickbooks", venueId, admin, 180_000)

/** Platform id → QuickBooks Id, from the change feed the pushes wrote. */
const pushedIds = (venueId: string, entityType: string) =>
  Effect.map(readFeed("quickbooks", venueId, admin, null, entityType), ({ changes }) => {
    const ids = new Map<string, string>()
    for (const c of changes) if (c.platformId !== null) ids.set(c.platformId, c.externalId)
    return ids
  })

/**
 * A full outbound pass over records already pushed: no call reaches QuickBooks and every record is unchanged
 * (`failed` of them still refused before any call).
 */
const againSendsNothing = (venueId: string, realm: string, entityType: string, records: number, failed = 0) =>
  Effect.gen(function* () {
    const { quickbooks } = yield* TestWorld
    const before = quickbooks.dataRequests(realm).length
    yield* startFullOutbound("quickbooks", admin, venueId, entityType, `again-${venueId}-${entityType}-${before}`)
    yield* settle(venueId)
    assert.deepStrictEqual(quickbooks.dataRequests(realm).slice(before), [], "the pass sent nothing")
    const full = yield* latestOutbound("quickbooks", venueId, admin, entityType)
    assert.deepStrictEqual(
      [
        full.status,
        full.counts.fetched,
        full.counts.unchanged,
        full.counts.created,
        full.counts.updated,
        full.counts.deleted,
        full.counts.failed
      ],
      ["completed", records, records - failed, 0, 0, 0, failed],
      JSON.stringify(full.counts)
    )
  })

// ---- Platform records and what the default outbound template makes of them ----

const buyer = (prefix: string, i: number, version: number, given = `Given${i}`) => ({
  id: `${prefix}-${i}`,
  version,
  data: {
    email: `${prefix}${i}@example.test`,
    givenName: given,
    familyName: `Family${i}`,
    phone: `+1520555${1000 + i}`,
    address: { line1: `${i} Court St.`, city: "Tucson", region: "AZ", postalCode: "85719", country: "US" }
  }
})

/** The customer fields the template maps, as QuickBooks holds them. */
const customerFields = (o: Record<string, any> | undefined) => ({
  DisplayName: o?.DisplayName,
  GivenName: o?.GivenName,
  FamilyName: o?.FamilyName,
  PrimaryEmailAddr: o?.PrimaryEmailAddr,
  PrimaryPhone: o?.PrimaryPhone,
  BillAddr: o?.BillAddr
})
const mappedBuyer = (data: ReturnType<typeof buyer>["data"]) => ({
  DisplayName: `${data.givenName} ${data.familyName}`,
  GivenName: data.givenName,
  FamilyName: data.familyName,
  PrimaryEmailAddr: { Address: data.email },
  PrimaryPhone: { FreeFormNumber: data.phone },
  BillAddr: {
    Line1: data.address.line1,
    City: data.address.city,
    CountrySubDivisionCode: data.address.region,
    PostalCode: data.address.postalCode,
    Country: data.address.country
  }
})

const show = (prefix: string, i: number, version: number, priceMinor = 1000 + i * 5) => ({
  id: `${prefix}-${i}`,
  version,
  data: { name: `Show ${prefix} ${i}`, description: `Night ${i}`, priceMinor, currency: "USD", active: true }
})
const itemFields = (o: Record<string, any> | undefined) => ({
  Name: o?.Name,
  Description: o?.Description,
  Type: o?.Type,
  UnitPrice: o?.UnitPrice,
  Active: o?.Active,
  Sku: o?.Sku
})
const mappedShow = (record: ReturnType<typeof show>) => ({
  Name: record.data.name,
  Description: record.data.description,
  Type: "Service",
  UnitPrice: record.data.priceMinor / 100,
  Active: true,
  Sku: record.id
})

interface Line {
  readonly productId: string
  readonly quantity: number
  readonly unitPriceMinor: number
  readonly description: string
}
const linesOf = (prefix: string, i: number): ReadonlyArray<Line> => [
  { productId: `${prefix}-show-${i % 10}`, quantity: (i % 3) + 1, unitPriceMinor: 1500 + i, description: `Seat ${i}` },
  { productId: `${prefix}-show-${(i + 3) % 10}`, quantity: 2, unitPriceMinor: 999, description: `Programme ${i}` }
]
const totalOf = (lines: ReadonlyArray<Line>) => lines.reduce((sum, l) => sum + l.quantity * l.unitPriceMinor, 0)
const day = (i: number) => `2026-03-${String((i % 28) + 1).padStart(2, "0")}`

/** A transaction's mapped fields as QuickBooks holds them: references as QuickBooks Ids, sales lines only. */
const saleFields = (o: Record<string, any> | undefined, dateField: "TxnDate" | "DueDate") => ({
  CustomerRef: o?.CustomerRef?.value,
  [dateField]: o?.[dateField],
  CurrencyRef: o?.CurrencyRef?.value,
  PrivateNote: o?.PrivateNote,
  TotalAmt: o?.TotalAmt,
  Line: (o?.Line ?? [])
    .filter((l: any) => l.DetailType === "SalesItemLineDetail")
    .map((l: any) => ({
      DetailType: l.DetailType,
      Amount: l.Amount,
      ItemRef: l.SalesItemLineDetail.ItemRef.value,
      Qty: l.SalesItemLineDetail.Qty,
      UnitPrice: l.SalesItemLineDetail.UnitPrice,
      Description: l.Description
    }))
})
const mappedSale = (
  record: { id: string; data: { customerId: string; lines: ReadonlyArray<Line> } },
  date: [string, string],
  note: string,
  customers: ReadonlyMap<string, string>,
  products: ReadonlyMap<string, string>
) => ({
  CustomerRef: customers.get(record.data.customerId),
  [date[0]]: date[1],
  CurrencyRef: "USD",
  PrivateNote: `${note} ${record.id}`,
  TotalAmt: totalOf(record.data.lines) / 100,
  Line: record.data.lines.map((l) => ({
    DetailType: "SalesItemLineDetail",
    Amount: (l.quantity * l.unitPriceMinor) / 100,
    ItemRef: products.get(l.productId),
    Qty: l.quantity,
    UnitPrice: l.unitPriceMinor / 100,
    Description: l.description
  }))
})

const byField = (objects: ReadonlyArray<QuickBooksObject>, field: (o: any) => unknown) =>
  new Map(objects.map((o) => [String(field(o)), o as Record<string, any>]))

layer(syncAppWith({ SYNC_OUTBOUND_DEBOUNCE: "2 seconds" }), { timeout: "300 seconds", excludeTestServices: true })(
  "outbound sync to QuickBooks over HTTP",
  (it) => {
    it.effect(
      "1,000 customers pushed, 10 % changed and 1 % made inactive: QuickBooks equals the mapped platform; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { quickbooks } = yield* TestWorld
          const [venueId, realm] = [venue(1), realmOf(1)]
          yield* connectOAuth("quickbooks", admin, venueId, realm)
          const records = Array.from({ length: 1000 }, (_, i) => buyer("cust", i, 1))
          yield* putRecords(admin, venueId, "customer", records)
          yield* settle(venueId)
          const first = yield* latestOutbound("quickbooks", venueId, admin, "customer")
          assert.strictEqual(first.status, "completed", JSON.stringify(first))
          assert.deepStrictEqual([first.counts.created, first.counts.failed], [1000, 0], JSON.stringify(first.counts))
          assert.strictEqual(quickbooks.creations(realm, "customer"), 1000)
          const ids = yield* pushedIds(venueId, "customer")
          assert.strictEqual(new Set(ids.values()).size, 1000, "one QuickBooks customer per platform customer")

          const changed = Array.from({ length: 100 }, (_, k) => buyer("cust", k * 10, 2, `Renamed${k * 10}`))
          yield* putRecords(admin, venueId, "customer", changed)
          for (let k = 0; k < 10; k++) yield* removeRecord(admin, venueId, "customer", `cust-${k * 100 + 5}`)
          yield* settle(venueId)
          const second = yield* latestOutbound("quickbooks", venueId, admin, "customer")
          assert.deepStrictEqual(
            [second.status, second.counts.updated, second.counts.deleted, second.counts.failed],
            ["completed", 100, 10, 0],
            JSON.stringify(second)
          )

          assert.strictEqual(quickbooks.records(realm, "customer").length, 990, "the deleted ones are inactive")
          for (let i = 0; i < 1000; i++) {
            const object = quickbooks.record(realm, "customer", ids.get(`cust-${i}`)!)
            const expected = i % 10 === 0 ? changed[i / 10]! : records[i]!
            assert.deepStrictEqual(customerFields(object), mappedBuyer(expected.data), `cust-${i}`)
            assert.strictEqual(object?.Active, i % 100 !== 5, `cust-${i} Active`)
          }
          assert.strictEqual(quickbooks.creations(realm, "customer"), 1000, "no customer was created twice")

          yield* againSendsNothing(venueId, realm, "customer", 1000)
        })
    )

    it.effect("120 items with unique names, repriced and one made inactive; again sends nothing", () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const [venueId, realm] = [venue(2), realmOf(2)]
        yield* connectOAuth("quickbooks", admin, venueId, realm)
        const records = Array.from({ length: 120 }, (_, i) => show("item", i, 1))
        yield* putRecords(admin, venueId, "product", records)
        yield* settle(venueId)
        const first = yield* latestOutbound("quickbooks", venueId, admin, "product")
        assert.deepStrictEqual([first.counts.created, first.counts.failed], [120, 0], JSON.stringify(first))

        const repriced = Array.from({ length: 12 }, (_, k) => show("item", k * 10, 2, 4200 + k))
        yield* putRecords(admin, venueId, "product", repriced)
        yield* removeRecord(admin, venueId, "product", "item-7")
        yield* settle(venueId)
        const second = yield* latestOutbound("quickbooks", venueId, admin, "product")
        assert.deepStrictEqual(
          [second.counts.updated, second.counts.deleted, second.counts.failed],
          [12, 1, 0],
          JSON.stringify(second)
        )

        const ids = yield* pushedIds(venueId, "product")
        assert.strictEqual(quickbooks.records(realm, "product").length, 119)
        for (let i = 0; i < 120; i++) {
          const object = quickbooks.record(realm, "product", ids.get(`item-${i}`)!)
          const expected = i % 10 === 0 ? repriced[i / 10]! : records[i]!
          assert.deepStrictEqual(itemFields(object), { ...mappedShow(expected), Active: i !== 7 }, `item-${i}`)
          assert.deepStrictEqual(object?.IncomeAccountRef, { value: "1", name: "Services" })
        }
        assert.strictEqual(quickbooks.creations(realm, "product"), 120)

        yield* againSendsNothing(venueId, realm, "product", 120)
      })
    )

    it.effect(
      "sales receipts and invoices reference the pushed customers and items; one whose customer was never pushed fails alone",
      () =>
        Effect.gen(function* () {
          const { quickbooks } = yield* TestWorld
          const [venueId, realm] = [venue(3), realmOf(3)]
          yield* connectOAuth("quickbooks", admin, venueId, realm)
          // Customers and items first: the sales refer to them.
          yield* putRecords(
            admin,
            venueId,
            "customer",
            Array.from({ length: 20 }, (_, i) => buyer("sale-cust", i, 1))
          )
          yield* putRecords(
            admin,
            venueId,
            "product",
            Array.from({ length: 10 }, (_, i) => ({ ...show("sale-show", i, 1), id: `sale-show-${i}` }))
          )
          yield* settle(venueId)
          const customers = yield* pushedIds(venueId, "customer")
          const products = yield* pushedIds(venueId, "product")
          assert.deepStrictEqual([customers.size, products.size], [20, 10])

          const order = (i: number, customerId = `sale-cust-${i % 20}`) => ({
            id: `order-${i}`,
            version: 1,
            data: {
              customerId,
              lines: linesOf("sale", i),
              totalMinor: totalOf(linesOf("sale", i)),
              currency: "USD",
              status: "completed",
              placedAt: `${day(i)}T12:00:00Z`
            }
          })
          const invoice = (i: number) => ({
            id: `invoice-${i}`,
            version: 1,
            data: {
              customerId: `sale-cust-${(i * 7) % 20}`,
              lines: linesOf("sale", i + 5),
              totalMinor: totalOf(linesOf("sale", i + 5)),
              currency: "USD",
              status: "open",
              dueAt: `${day(i + 10)}T00:00:00Z`
            }
          })
          const orders = Array.from({ length: 40 }, (_, i) => (i === 13 ? order(i, "walk-in-1") : order(i)))
          const invoices = Array.from({ length: 20 }, (_, i) => invoice(i))
          yield* putRecords(admin, venueId, "order", orders)
          yield* putRecords(admin, venueId, "invoice", invoices)
          yield* settle(venueId)

          const orderJob = yield* latestOutbound("quickbooks", venueId, admin, "order")
          assert.deepStrictEqual(
            [orderJob.status, orderJob.counts.created, orderJob.counts.failed],
            ["completed", 39, 1],
            JSON.stringify(orderJob)
          )
          assert.isTrue(
            orderJob.logs.some(
              (l: any) =>
                l.level === "warn" &&
                l.message.includes("order-13") &&
                l.message.includes("customer walk-in-1 has not been pushed yet")
            ),
            JSON.stringify(orderJob.logs)
          )
          const invoiceJob = yield* latestOutbound("quickbooks", venueId, admin, "invoice")
          assert.deepStrictEqual(
            [invoiceJob.status, invoiceJob.counts.created, invoiceJob.counts.failed],
            ["completed", 20, 0],
            JSON.stringify(invoiceJob)
          )

          const receipts = byField(quickbooks.records(realm, "order"), (o) => o.PrivateNote)
          assert.strictEqual(receipts.size, 39)
          assert.isUndefined(receipts.get("Platform order order-13"))
          for (const o of orders.filter((o) => o.id !== "order-13"))
            assert.deepStrictEqual(
              saleFields(receipts.get(`Platform order ${o.id}`), "TxnDate"),
              mappedSale(o, ["TxnDate", o.data.placedAt.slice(0, 10)], "Platform order", customers, products),
              o.id
            )
          const bills = byField(quickbooks.records(realm, "invoice"), (o) => o.PrivateNote)
          assert.strictEqual(bills.size, 20)
          for (const b of invoices)
            assert.deepStrictEqual(
              saleFields(bills.get(`Platform invoice ${b.id}`), "DueDate"),
              mappedSale(b, ["DueDate", b.data.dueAt.slice(0, 10)], "Platform invoice", customers, products),
              b.id
            )
          assert.deepStrictEqual(
            [quickbooks.creations(realm, "order"), quickbooks.creations(realm, "invoice")],
            [39, 20]
          )

          // Nothing more to send; the refused receipt is refused again before any call.
          yield* againSendsNothing(venueId, realm, "order", 40, 1)
          yield* againSendsNothing(venueId, realm, "invoice", 20)

          // Once its customer is pushed, the refused receipt goes through with the next pass.
          yield* putRecords(admin, venueId, "customer", [{ ...buyer("walk-in", 1, 1), id: "walk-in-1" }])
          yield* settle(venueId)
          const walkIn = (yield* pushedIds(venueId, "customer")).get("walk-in-1")
          assert.isDefined(walkIn)
          const retried = yield* startSync(
            "quickbooks",
            admin,
            { venueId, entityTypes: ["order"], direction: "outbound", mode: "full" },
            { "idempotency-key": "orders-after-walk-in" }
          )
          assert.strictEqual(retried.status, 202, retried.text)
          yield* settle(venueId)
          const last = yield* latestOutbound("quickbooks", venueId, admin, "order")
          assert.deepStrictEqual(
            [last.counts.created, last.counts.unchanged, last.counts.failed],
            [1, 39, 0],
            JSON.stringify(last.counts)
          )
          const thirteen = byField(quickbooks.records(realm, "order"), (o) => o.PrivateNote).get(
            "Platform order order-13"
          )
          assert.strictEqual(thirteen?.CustomerRef.value, walkIn)
          assert.strictEqual(quickbooks.creations(realm, "order"), 40)

          // A changed receipt is updated in place; a deleted invoice is deleted at QuickBooks.
          const orderIds = yield* pushedIds(venueId, "order")
          const invoiceIds = yield* pushedIds(venueId, "invoice")
          const lines = [{ productId: "sale-show-9", quantity: 5, unitPriceMinor: 2750, description: "Box seats" }]
          const changed = {
            id: "order-1",
            version: 2,
            data: { ...order(1).data, customerId: "sale-cust-19", lines, totalMinor: totalOf(lines) }
          }
          yield* putRecords(admin, venueId, "order", [changed])
          yield* removeRecord(admin, venueId, "invoice", "invoice-3")
          yield* settle(venueId)
          const changedJob = yield* latestOutbound("quickbooks", venueId, admin, "order")
          assert.deepStrictEqual(
            [changedJob.counts.updated, changedJob.counts.created, changedJob.counts.failed],
            [1, 0, 0],
            JSON.stringify(changedJob)
          )
          const deletedJob = yield* latestOutbound("quickbooks", venueId, admin, "invoice")
          assert.deepStrictEqual(
            [deletedJob.counts.deleted, deletedJob.counts.failed],
            [1, 0],
            JSON.stringify(deletedJob)
          )
          const receipt = quickbooks.record(realm, "order", orderIds.get("order-1")!)
          assert.deepStrictEqual(
            saleFields(receipt, "TxnDate"),
            mappedSale(changed, ["TxnDate", day(1)], "Platform order", customers, products)
          )
          assert.deepStrictEqual(quickbooks.record(realm, "invoice", invoiceIds.get("invoice-3")!)?.status, "Deleted")
          assert.strictEqual(quickbooks.records(realm, "invoice").length, 19)
          assert.deepStrictEqual(
            [quickbooks.creations(realm, "order"), quickbooks.creations(realm, "invoice")],
            [40, 20]
          )
          yield* againSendsNothing(venueId, realm, "order", 40)
          yield* againSendsNothing(venueId, realm, "invoice", 20)
        })
    )

    it.effect("a stale SyncToken is re-read and the change applied on the current one: updated, no duplicate", () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const [venueId, realm] = [venue(4), realmOf(4)]
        yield* connectOAuth("quickbooks", admin, venueId, realm)
        const records = Array.from({ length: 3 }, (_, i) => buyer("stale", i, 1))
        yield* putRecords(admin, venueId, "customer", records)
        yield* settle(venueId)
        const ids = yield* pushedIds(venueId, "customer")
        const id = ids.get("stale-1")!
        assert.strictEqual(quickbooks.record(realm, "customer", id)?.SyncToken, "0")

        // The bookkeeper edits the customer in QuickBooks: its SyncToken moves on from the one our link holds.
        quickbooks.upsertRecord(realm, "customer", { Id: id, Notes: "Prefers aisle seats" })
        assert.strictEqual(quickbooks.record(realm, "customer", id)?.SyncToken, "1")
        const before = quickbooks.dataRequests(realm).length
        const renamed = buyer("stale", 1, 2, "Renamed")
        yield* putRecords(admin, venueId, "customer", [renamed])
        yield* settle(venueId)

        const job = yield* latestOutbound("quickbooks", venueId, admin, "customer")
        assert.deepStrictEqual(
          [job.status, job.counts.updated, job.counts.created, job.counts.failed],
          ["completed", 1, 0, 0],
          JSON.stringify(job)
        )
        // Refused as stale, read again, applied on the current SyncToken.
        const calls = quickbooks.dataRequests(realm).slice(before)
        assert.deepStrictEqual(
          calls.map((r) => new URL(r.path, "http://x").pathname.split("/").slice(4).join("/")),
          ["customer", `customer/${id}`, "customer"],
          JSON.stringify(calls)
        )
        const object = quickbooks.record(realm, "customer", id)
        assert.deepStrictEqual(customerFields(object), mappedBuyer(renamed.data))
        assert.strictEqual(object?.Notes, "Prefers aisle seats", "a sparse update keeps the bookkeeper's note")
        assert.strictEqual(object?.SyncToken, "2")
        for (const i of [0, 2])
          assert.deepStrictEqual(
            customerFields(quickbooks.record(realm, "customer", ids.get(`stale-${i}`)!)),
            mappedBuyer(records[i]!.data)
          )
        assert.strictEqual(quickbooks.records(realm, "customer").length, 3)
        assert.strictEqual(quickbooks.creations(realm, "customer"), 3, "no duplicate")

        // Edited at QuickBooks again, then deleted on the platform: made inactive on the current SyncToken.
        quickbooks.upsertRecord(realm, "customer", { Id: ids.get("stale-2")!, Notes: "Moved away" })
        yield* removeRecord(admin, venueId, "customer", "stale-2")
        yield* settle(venueId)
        const archived = yield* latestOutbound("quickbooks", venueId, admin, "customer")
        assert.deepStrictEqual([archived.counts.deleted, archived.counts.failed], [1, 0], JSON.stringify(archived))
        assert.deepStrictEqual(
          [
            quickbooks.record(realm, "customer", ids.get("stale-2")!)?.Active,
            quickbooks.record(realm, "customer", ids.get("stale-2")!)?.Notes
          ],
          [false, "Moved away"]
        )
        assert.strictEqual(quickbooks.records(realm, "customer").length, 2)
        assert.strictEqual(quickbooks.creations(realm, "customer"), 3)

        yield* againSendsNothing(venueId, realm, "customer", 3)
      })
    )

    it.effect("a DisplayName QuickBooks already has: the same email links to it, another email is suffixed", () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        const [venueId, realm] = [venue(5), realmOf(5)]
        yield* connectOAuth("quickbooks", admin, venueId, realm)
        // Customers the venue keyed into QuickBooks before connecting.
        const ada = quickbooks.upsertRecord(realm, "customer", {
          DisplayName: "Ada Lovelace",
          GivenName: "Ada",
          FamilyName: "Lovelace",
          PrimaryEmailAddr: { Address: "Ada@Example.test" }
        })
        const grace = quickbooks.upsertRecord(realm, "customer", {
          DisplayName: "Grace Hopper",
          GivenName: "Grace",
          FamilyName: "Hopper",
          PrimaryEmailAddr: { Address: "grace@navy.example" }
        })
        const person = (id: string, givenName: string, familyName: string, email: string, version = 1) => ({
          id,
          version,
          data: { email, givenName, familyName }
        })
        const records = [
          person("dup-ada", "Ada", "Lovelace", "ada@example.test"),
          person("dup-grace", "Grace", "Hopper", "grace@example.test"),
          person("dup-alan", "Alan", "Turing", "alan@example.test")
        ]
        yield* putRecords(admin, venueId, "customer", records)
        yield* settle(venueId)

        const job = yield* latestOutbound("quickbooks", venueId, admin, "customer")
        assert.deepStrictEqual(
          [job.status, job.counts.created, job.counts.updated, job.counts.failed],
          ["completed", 2, 1, 0],
          JSON.stringify(job)
        )
        const ids = yield* pushedIds(venueId, "customer")
        assert.strictEqual(ids.get("dup-ada"), ada.Id, "linked to the customer QuickBooks had")
        assert.notStrictEqual(ids.get("dup-grace"), grace.Id)
        const fields = (o: Record<string, any> | undefined) => ({
          DisplayName: o?.DisplayName,
          GivenName: o?.GivenName,
          FamilyName: o?.FamilyName,
          PrimaryEmailAddr: o?.PrimaryEmailAddr
        })
        const mapped = (r: (typeof records)[number], displayName = `${r.data.givenName} ${r.data.familyName}`) => ({
          DisplayName: displayName,
          GivenName: r.data.givenName,
          FamilyName: r.data.familyName,
          PrimaryEmailAddr: { Address: r.data.email }
        })
        assert.deepStrictEqual(fields(quickbooks.record(realm, "customer", ada.Id)), mapped(records[0]!))
        assert.deepStrictEqual(
          fields(quickbooks.record(realm, "customer", ids.get("dup-grace")!)),
          mapped(records[1]!, "Grace Hopper (2)")
        )
        assert.deepStrictEqual(fields(quickbooks.record(realm, "customer", grace.Id)), {
          DisplayName: "Grace Hopper",
          GivenName: "Grace",
          FamilyName: "Hopper",
          PrimaryEmailAddr: { Address: "grace@navy.example" }
        })
        assert.deepStrictEqual(fields(quickbooks.record(realm, "customer", ids.get("dup-alan")!)), mapped(records[2]!))
        assert.strictEqual(quickbooks.records(realm, "customer").length, 4, "two there before, two created")
        assert.strictEqual(quickbooks.creations(realm, "customer"), 2)

        // A later change to the suffixed customer keeps its suffix.
        const regraced = person("dup-grace", "Grace", "Hopper", "grace.hopper@example.test", 2)
        yield* putRecords(admin, venueId, "customer", [regraced])
        yield* settle(venueId)
        const updated = yield* latestOutbound("quickbooks", venueId, admin, "customer")
        assert.deepStrictEqual(
          [updated.counts.updated, updated.counts.created, updated.counts.failed],
          [1, 0, 0],
          JSON.stringify(updated)
        )
        assert.deepStrictEqual(
          fields(quickbooks.record(realm, "customer", ids.get("dup-grace")!)),
          mapped(regraced, "Grace Hopper (2)")
        )
        assert.strictEqual(quickbooks.creations(realm, "customer"), 2)

        yield* againSendsNothing(venueId, realm, "customer", 3)
      })
    )
  }
)
