import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { entitiesFor } from "../../domain/sync/SupportedPairs.ts"
import type { FakeQuickBooksEntityType } from "../sandbox/FakeQuickBooksData.ts"
import { connectOAuth } from "../support/SyncConnect.ts"
import { changeLines, latestJob, liveOf, readFeed, syncAppWith, syncToEnd } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "f3f3f3f3-0000-4000-8000-0000000000f3"
const venueId = "f3f3f3f3-1111-4000-8000-000000000001"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
/** The company the venue chooses: the fake binds the connection's token to it, so the data is seeded there. */
const realm = "9341450000000777"
const entities = entitiesFor("quickbooks", "inbound") as ReadonlyArray<FakeQuickBooksEntityType>

const ids = (records: ReadonlyArray<Record<string, unknown>>) => records.map((r) => String(r.Id)).sort()

const minor = (amount: number) => Math.round(amount * 100)

layer(syncAppWith(), { timeout: "240 seconds", excludeTestServices: true })(
  "quickbooks inbound sync over HTTP",
  (it) => {
    it.effect("full, incremental (CDC) after creates, updates and deletions, then nothing", () =>
      Effect.gen(function* () {
        const { quickbooks } = yield* TestWorld
        yield* connectOAuth("quickbooks", admin, venueId, realm)
        // Three query pages of 1,000 each.
        for (const entity of entities) quickbooks.seed(realm, entity, 2_100)

        const fullJobs = yield* syncToEnd("quickbooks", admin, venueId, { mode: "full" }, "quickbooks-full-1")
        assert.deepStrictEqual(fullJobs.map((j) => j.entityType).sort(), [...entities].sort())
        // Three pages a type: 1,000, 1,000 and 100.
        assert.strictEqual(quickbooks.dataRequests(realm).filter((r) => r.path.includes("/query?")).length, 15)
        const first = yield* readFeed("quickbooks", venueId, admin, null)
        assert.isTrue(first.changes.every((c) => c.change === "added" && c.mappingVersion === 0))
        for (const entity of entities)
          assert.deepStrictEqual(
            [...liveOf(first.changes, entity).keys()].sort(),
            ids(quickbooks.records(realm, entity))
          )

        // Mapped through the default templates.
        const mapped = (entity: string, id: string) => liveOf(first.changes, entity).get(id)!.data
        const customer = quickbooks.records(realm, "customer")[1_234] as any
        assert.deepInclude(mapped("customer", customer.Id), {
          id: customer.Id,
          email: customer.PrimaryEmailAddr.Address.toLowerCase(),
          givenName: customer.GivenName,
          familyName: customer.FamilyName,
          phone: `+1${customer.PrimaryPhone.FreeFormNumber.replace(/\D/g, "")}`,
          marketingConsent: "unknown"
        })
        assert.deepInclude(mapped("customer", customer.Id).address, {
          line1: customer.BillAddr.Line1,
          city: customer.BillAddr.City,
          region: customer.BillAddr.CountrySubDivisionCode,
          postalCode: customer.BillAddr.PostalCode
        })
        const product = quickbooks.records(realm, "product")[2_050] as any
        assert.deepInclude(mapped("product", product.Id), {
          id: product.Id,
          name: product.Name,
          description: product.Description,
          priceMinor: minor(product.UnitPrice),
          currency: "USD",
          active: true
        })
        for (const entity of ["order", "invoice"] as const) {
          const sale = quickbooks.records(realm, entity)[999] as any
          const data = mapped(entity, sale.Id)
          assert.deepInclude(data, {
            id: sale.Id,
            customerId: sale.CustomerRef.value,
            totalMinor: minor(sale.TotalAmt),
            currency: "USD"
          })
          const line = sale.Line[0]
          assert.deepInclude(data.lines[0], {
            productId: line.SalesItemLineDetail.ItemRef.value,
            quantity: line.SalesItemLineDetail.Qty,
            unitPriceMinor: minor(line.SalesItemLineDetail.UnitPrice),
            description: line.Description
          })
          if (entity === "order") {
            assert.strictEqual(data.status, "completed")
            assert.isTrue(data.placedAt.startsWith(sale.TxnDate), data.placedAt)
          } else assert.isTrue(data.dueAt.startsWith(sale.DueDate), data.dueAt)
        }
        const payment = quickbooks.records(realm, "payment")[0] as any
        assert.deepInclude(mapped("payment", payment.Id), {
          id: payment.Id,
          amountMinor: minor(payment.TotalAmt),
          currency: "USD",
          status: "succeeded",
          method: "other"
        })
        assert.isTrue(mapped("payment", payment.Id).processedAt.startsWith(payment.TxnDate))

        // Changes at QuickBooks. Deleting a Customer or Item makes it inactive; a transaction is deleted and CDC
        // answers its `status: "Deleted"` stub. CDC shows all of them.
        const before = Object.fromEntries(entities.map((e) => [e, quickbooks.records(realm, e)])) as Record<
          FakeQuickBooksEntityType,
          ReadonlyArray<any>
        >
        const expected: Array<string> = []
        for (const entity of entities) {
          for (let i = 0; i < 2; i++) {
            const made = quickbooks.upsertRecord(realm, entity, entity === "customer" ? { GivenName: `New${i}` } : {})
            expected.push(`${entity} added ${made.Id}`)
          }
          const [changed, alsoChanged, gone] = [before[entity][3], before[entity][1_500], before[entity][2_099]]
          quickbooks.upsertRecord(
            realm,
            entity,
            entity === "customer" || entity === "product"
              ? { Id: changed.Id, Description: "Changed", GivenName: "Changed" }
              : { Id: changed.Id, TotalAmt: 999.5 }
          )
          quickbooks.upsertRecord(realm, entity, { Id: alsoChanged.Id, PrivateNote: "Looked at" })
          quickbooks.deleteRecord(realm, entity, gone.Id)
          expected.push(
            `${entity} updated ${changed.Id}`,
            `${entity} updated ${alsoChanged.Id}`,
            `${entity} deleted ${gone.Id}`
          )
        }

        const read = quickbooks.dataRequests(realm).length
        yield* syncToEnd("quickbooks", admin, venueId, { mode: "incremental" }, "quickbooks-incremental-1")
        // Read as changes, not in full: one CDC call per entity.
        const reads = quickbooks.dataRequests(realm).slice(read)
        assert.deepStrictEqual(
          reads.map((r) => new URL(r.path, "http://x").pathname.split("/").at(-1)),
          entities.map(() => "cdc"),
          JSON.stringify(reads)
        )
        const second = yield* readFeed("quickbooks", venueId, admin, first.cursor)
        assert.deepStrictEqual(changeLines(second.changes), expected.sort())
        const changedOrder = second.changes.find((c) => c.entityType === "order" && c.externalId === before.order[3].Id)
        assert.strictEqual(changedOrder.data.totalMinor, 99_950)
        const changedCustomer = second.changes.find(
          (c) => c.entityType === "customer" && c.externalId === before.customer[3].Id
        )
        assert.strictEqual(changedCustomer.data.givenName, "Changed")
        const all = [...first.changes, ...second.changes]
        for (const entity of entities)
          assert.deepStrictEqual([...liveOf(all, entity).keys()].sort(), ids(quickbooks.records(realm, entity)))

        // Nothing changed: nothing written, nothing in the feed (CDC's overlap reads the last changes again).
        yield* syncToEnd("quickbooks", admin, venueId, { mode: "incremental" }, "quickbooks-incremental-2")
        const after = yield* readFeed("quickbooks", venueId, admin, second.cursor)
        assert.deepStrictEqual(after.changes, [])
        for (const entity of entities) {
          const latest = yield* latestJob("quickbooks", venueId, admin, entity)
          assert.strictEqual(latest.status, "completed")
          assert.strictEqual(latest.mode, "incremental")
          assert.isAbove(latest.counts.fetched, 0, "the overlap reads the last changes again")
          assert.deepStrictEqual(
            [latest.counts.created, latest.counts.updated, latest.counts.deleted],
            [0, 0, 0],
            JSON.stringify(latest)
          )
        }
      })
    )
  }
)
