import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import {
  assertAllUnchanged,
  countsSince,
  latestOutbound,
  putRecords,
  removeRecord,
  startFullOutbound
} from "../support/OutboundTestApp.ts"
import { connectOAuth } from "../support/SyncConnect.ts"
import { jobsSettled, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "0c000000-0000-4000-8000-0000000000c1"
const venue = (n: number) => `0c000000-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
/** Each venue signs in as its own seller: the fake keeps each seller's data apart. */
const merchantOf = (n: number) => `MLSYNCOUTBOUND${String(n).padStart(2, "0")}`

/** A full outbound pass over unchanged records: no call reaches Square and every record counts as unchanged. */
const fullPassSendsNothing = (venueId: string, merchant: string, entityType: string, live: number) =>
  Effect.gen(function* () {
    const { square } = yield* TestWorld
    const before = square.dataRequests(merchant).length
    yield* startFullOutbound("square", admin, venueId, entityType, `square-full-${venueId}-${entityType}`)
    yield* jobsSettled("square", venueId, admin)
    assert.deepStrictEqual(
      square.dataRequests(merchant).slice(before),
      [],
      "a pass over unchanged records sends nothing"
    )
    const full = yield* latestOutbound("square", venueId, admin, entityType)
    // Deleted records are read too and skipped: their archive is done.
    assertAllUnchanged(full, live)
  })

/** Platform ids are the tenant's: each test has its own `prefix`. */
const buyer = (i: number, version: number, givenName = `Given${i}`, prefix = "sq-buyer") => ({
  id: `${prefix}-${i}`,
  version,
  data: {
    email: `buyer${i}@example.test`,
    givenName,
    familyName: `Family${i}`,
    phone: `+1212555${String(1000 + i).padStart(4, "0")}`,
    address: { line1: `${i} Stage Door Lane`, city: "Springfield", region: "IL", postalCode: "62701", country: "US" }
  }
})

/** A ticketed event: price, currency and the tickets left (every 17th sold out). */
const show = (i: number, version: number, name = `Show ${i}`, priceMinor = 1500 + i * 25, prefix = "sq-show") => ({
  id: `${prefix}-${i}`,
  version,
  data: {
    name,
    description: `Evening performance ${i}`,
    priceMinor,
    currency: "USD",
    active: true,
    capacityRemaining: i % 17 === 0 ? 0 : 40 + (i % 60)
  }
})

/** Square's customers by the platform id the push set as their `reference_id`. */
const byReference = (customers: ReadonlyArray<Record<string, any>>) =>
  new Map(customers.map((c) => [String(c.reference_id), c]))

/** What the default outbound template makes of a buyer, as Square keeps it. */
const squareCustomerOf = (record: ReturnType<typeof buyer>) => ({
  given_name: record.data.givenName,
  family_name: record.data.familyName,
  email_address: record.data.email,
  phone_number: record.data.phone,
  reference_id: record.id,
  address: {
    address_line_1: record.data.address.line1,
    locality: record.data.address.city,
    administrative_district_level_1: record.data.address.region,
    postal_code: record.data.address.postalCode,
    country: record.data.address.country
  }
})

const customerAtSquare = (customer: Record<string, any> | undefined) =>
  customer === undefined
    ? undefined
    : {
        given_name: customer.given_name,
        family_name: customer.family_name,
        email_address: customer.email_address,
        phone_number: customer.phone_number,
        reference_id: customer.reference_id,
        address: customer.address
      }

layer(syncAppWith({ SYNC_OUTBOUND_DEBOUNCE: "3 seconds" }), { timeout: "300 seconds", excludeTestServices: true })(
  "outbound sync to Square over HTTP",
  (it) => {
    it.effect(
      "1,000 buyers pushed, 10 % changed and 1 % deleted: Square's customers equal the mapped platform; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { square } = yield* TestWorld
          const venueId = venue(1)
          const merchant = merchantOf(1)
          yield* connectOAuth("square", admin, venueId, merchant)
          const platform = new Map(Array.from({ length: 1000 }, (_, i) => [i, buyer(i, 1)] as const))
          yield* putRecords(admin, venueId, "customer", [...platform.values()])
          yield* jobsSettled("square", venueId, admin)
          const first = yield* latestOutbound("square", venueId, admin, "customer")
          assert.strictEqual(first.status, "completed", JSON.stringify(first))
          assert.deepStrictEqual([first.counts.created, first.counts.failed], [1000, 0], JSON.stringify(first.counts))
          assert.strictEqual(square.creations(merchant, "customer"), 1000)

          const changed = Array.from({ length: 100 }, (_, k) => buyer(k * 10, 2, `Renamed${k * 10}`))
          for (const record of changed) platform.set(Number(record.id.split("-").at(-1)), record)
          yield* putRecords(admin, venueId, "customer", changed)
          const deleted = Array.from({ length: 10 }, (_, k) => k * 100 + 5)
          for (const i of deleted) {
            yield* removeRecord(admin, venueId, "customer", `sq-buyer-${i}`)
            platform.delete(i)
          }
          yield* jobsSettled("square", venueId, admin)
          assert.deepStrictEqual(yield* countsSince("square", venueId, admin, "customer", first), {
            created: 0,
            updated: 100,
            deleted: 10,
            failed: 0
          })

          const atSquare = byReference(square.records(merchant, "customer"))
          assert.strictEqual(atSquare.size, 990, "the deleted buyers are deleted at Square")
          for (const i of deleted) assert.isUndefined(atSquare.get(`sq-buyer-${i}`), `sq-buyer-${i} was deleted`)
          for (const [, record] of platform)
            assert.deepStrictEqual(customerAtSquare(atSquare.get(record.id)), squareCustomerOf(record), record.id)
          assert.strictEqual(square.creations(merchant, "customer"), 1000, "no buyer was created twice")

          yield* fullPassSendsNothing(venueId, merchant, "customer", 1000)
        })
    )

    it.effect(
      "200 ticketed events as catalog ITEMs with their price and inventory (sold out is 0), 10 % re-priced or renamed, 1 % deleted; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { square } = yield* TestWorld
          const venueId = venue(2)
          const merchant = merchantOf(2)
          yield* connectOAuth("square", admin, venueId, merchant)
          const count = 200
          const platform = new Map(Array.from({ length: count }, (_, i) => [i, show(i, 1)] as const))
          yield* putRecords(admin, venueId, "product", [...platform.values()])
          yield* jobsSettled("square", venueId, admin)
          const first = yield* latestOutbound("square", venueId, admin, "product")
          assert.strictEqual(first.status, "completed", JSON.stringify(first))
          assert.deepStrictEqual([first.counts.created, first.counts.failed], [count, 0], JSON.stringify(first.counts))
          assert.strictEqual(square.creations(merchant, "product"), count)

          // Every tenth event changes: even ones re-priced (and fewer tickets left), odd ones renamed.
          const changed = Array.from({ length: count / 10 }, (_, k) => {
            const i = k * 10 + 3
            const was = platform.get(i)!
            const next =
              k % 2 === 0
                ? show(i, 2, was.data.name, was.data.priceMinor + 500)
                : show(i, 2, `Renamed show ${i}`, was.data.priceMinor)
            if (k % 4 === 0) next.data.capacityRemaining = 0
            platform.set(i, next)
            return next
          })
          yield* putRecords(admin, venueId, "product", changed)
          const deleted = [50, 150]
          for (const i of deleted) {
            yield* removeRecord(admin, venueId, "product", `sq-show-${i}`)
            platform.delete(i)
          }
          yield* jobsSettled("square", venueId, admin)
          assert.deepStrictEqual(yield* countsSince("square", venueId, admin, "product", first), {
            created: 0,
            updated: count / 10,
            deleted: deleted.length,
            failed: 0
          })

          const items = square.records(merchant, "product") as ReadonlyArray<any>
          assert.strictEqual(items.length, count - deleted.length, "the deleted events are deleted from the catalog")
          const byName = new Map(items.map((item) => [item.item_data.name as string, item]))
          assert.strictEqual(byName.size, items.length, "one ITEM per event")
          let soldOut = 0
          for (const [, record] of platform) {
            const item = byName.get(record.data.name)
            assert.isDefined(item, `${record.id} is in the catalog as ${record.data.name}`)
            const [variation, ...others] = item.item_data.variations
            assert.deepStrictEqual(others, [], `${record.id} has one variation`)
            assert.deepStrictEqual(
              {
                type: item.type,
                name: item.item_data.name,
                description: item.item_data.description,
                variation: variation.item_variation_data.name,
                price: variation.item_variation_data.price_money
              },
              {
                type: "ITEM",
                name: record.data.name,
                description: record.data.description,
                variation: "General admission",
                price: { amount: record.data.priceMinor, currency: record.data.currency }
              },
              record.id
            )
            const counted = square.inventoryCount(merchant, variation.id)
            assert.strictEqual(counted?.quantity, String(record.data.capacityRemaining), `${record.id}'s tickets left`)
            if (record.data.capacityRemaining === 0) soldOut++
          }
          assert.isAtLeast(soldOut, 10, "sold-out shows are 0 at Square")
          for (const i of deleted) assert.isFalse(byName.has(`Show ${i}`), `sq-show-${i} was deleted`)
          assert.strictEqual(square.creations(merchant, "product"), count, "no event was created twice")

          yield* fullPassSendsNothing(venueId, merchant, "product", count)
        })
    )

    it.effect(
      "a customer and an item changed at Square (a newer version) then on the platform: re-read, updated, no duplicate",
      () =>
        Effect.gen(function* () {
          const { square } = yield* TestWorld
          const venueId = venue(3)
          const merchant = merchantOf(3)
          yield* connectOAuth("square", admin, venueId, merchant)
          yield* putRecords(admin, venueId, "customer", [buyer(1, 1, "Given1", "sq-vm")])
          yield* putRecords(admin, venueId, "product", [show(1, 1, "Macbeth", 2500, "sq-vm")])
          yield* jobsSettled("square", venueId, admin)
          const [customer] = square.records(merchant, "customer") as ReadonlyArray<any>
          const [item] = square.records(merchant, "product") as ReadonlyArray<any>
          assert.deepStrictEqual([customer.given_name, item.item_data.name], ["Given1", "Macbeth"])

          // The box office edits both at Square: each gets a newer version than the one our push holds.
          const edited = square.upsertRecord(merchant, "customer", { id: customer.id, note: "Wheelchair access" })
          assert.isAbove(Number(edited.version), Number(customer.version))
          const bumped = square.upsertRecord(merchant, "product", {
            id: item.id,
            item_data: { ...item.item_data, abbreviation: "MB" }
          })
          assert.isAbove(Number(bumped.version), Number(item.version))

          const before = square.dataRequests(merchant).length
          yield* putRecords(admin, venueId, "customer", [buyer(1, 2, "Renamed1", "sq-vm")])
          yield* putRecords(admin, venueId, "product", [show(1, 2, "Macbeth (revival)", 3000, "sq-vm")])
          yield* jobsSettled("square", venueId, admin)
          const calls = square
            .dataRequests(merchant)
            .slice(before)
            .map((r) => r.path)
          // Each stale write was refused, re-read and sent again.
          assert.includeMembers(calls, [`GET /v2/customers/${customer.id}`, "POST /v2/catalog/batch-retrieve"])
          assert.strictEqual(calls.filter((p) => p === `PUT /v2/customers/${customer.id}`).length, 2, calls.join())
          assert.strictEqual(calls.filter((p) => p === "POST /v2/catalog/batch-upsert").length, 2, calls.join())

          for (const entityType of ["customer", "product"]) {
            const job = yield* latestOutbound("square", venueId, admin, entityType)
            assert.deepStrictEqual(
              [job.status, job.counts.updated, job.counts.created, job.counts.failed],
              ["completed", 1, 0, 0],
              `${entityType}: ${JSON.stringify(job)}`
            )
          }
          const [customerNow] = square.records(merchant, "customer") as ReadonlyArray<any>
          assert.deepStrictEqual(
            [customerNow.id, customerNow.given_name, customerNow.note],
            [customer.id, "Renamed1", "Wheelchair access"],
            "the platform's change is applied on the current version; the box office's own field stays"
          )
          const [itemNow] = square.records(merchant, "product") as ReadonlyArray<any>
          const variation = itemNow.item_data.variations[0]
          assert.deepStrictEqual(
            [
              itemNow.id,
              itemNow.item_data.name,
              variation.item_variation_data.price_money.amount,
              itemNow.item_data.abbreviation
            ],
            [item.id, "Macbeth (revival)", 3000, "MB"]
          )
          assert.deepStrictEqual(
            [square.creations(merchant, "customer"), square.creations(merchant, "product")],
            [1, 1],
            "no duplicate"
          )
          assert.strictEqual(square.records(merchant, "customer").length, 1)
          assert.strictEqual(square.records(merchant, "product").length, 1)
        })
    )
  }
)
