import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeSquareData } from "../../adapters/providers/square/SquareData.ts"
import { canonicalCatalogs, type EntityType } from "../../domain/canonical/EntityType.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type {
  DataCredential,
  Page,
  PageRequest,
  ProviderCallFailed,
  ProviderDataAdapter,
  ProviderRecord
} from "../../ports/sync/ProviderData.ts"
import { type FakeSquare, type FakeSquareEntity, startFakeSquare } from "../sandbox/FakeSquare.ts"

let fake: FakeSquare
beforeAll(async () => {
  fake = await startFakeSquare()
})
afterAll(() => fake.close())

let merchants = 0
/** Each test reads its own merchant, so seeds, injections and request logs never mix. */
const newMerchant = () => `MLSQUAREDATA${String(++merchants).padStart(4, "0")}`

const adapter = (settings: Record<string, string> = {}) =>
  makeSquareData.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ SQUARE_BASE_URL: fake.url, ...settings }))),
    Effect.orDie
  )

const credential = (merchant: string, token = fake.issueAccessToken(merchant)): DataCredential => ({
  token: Redacted.make(token),
  accountId: merchant,
  extra: {},
  audienceId: null
})

const request = (
  entityType: EntityType,
  credential: DataCredential,
  options: Partial<Pick<PageRequest, "mode" | "since" | "cursor">> = {}
): PageRequest => ({ entityType, credential, mode: "full", since: null, cursor: null, ...options })

/** A whole pass from `first.cursor`, every page kept. */
const pass = (first: PageRequest, data?: ProviderDataAdapter) =>
  Effect.gen(function* () {
    const reader = data ?? (yield* adapter())
    const pages: Array<Page> = []
    let cursor = first.cursor
    do {
      const page = yield* reader.page({ ...first, cursor })
      pages.push(page)
      cursor = page.nextCursor
    } while (cursor !== null)
    return pages
  })

const recordsOf = (pages: ReadonlyArray<Page>) => pages.flatMap((p) => p.records)
const ids = (records: ReadonlyArray<ProviderRecord | Record<string, unknown>>) =>
  records.map((r) => String("externalId" in r ? r.externalId : r.id))
const sorted = (values: ReadonlyArray<string>) => [...values].sort()

/** The page's failure, which must be a provider call's (the test fails if the page succeeded). */
const failureOf = (data: ProviderDataAdapter, r: PageRequest) =>
  Effect.map(Effect.flip(data.page(r)), (error): ProviderCallFailed => {
    if (error._tag !== "ProviderCallFailed") return assert.fail(`expected ProviderCallFailed, got ${error._tag}`)
    return error
  })

const entities: ReadonlyArray<FakeSquareEntity> = ["customer", "product", "order", "payment"]

describe("SquareData against the sandbox fake", () => {
  it.live("a full pass over each entity returns exactly the seller's live records, several pages, oldest first", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const data = yield* adapter()
      const cred = credential(merchant)
      const counts = { customer: 250, product: 2100, order: 1100, payment: 230 }
      for (const entity of entities) fake.seed(merchant, entity, counts[entity])

      for (const entity of ["customer", "product", "payment"] as const) {
        const pages = yield* pass(request(entity, cred), data)
        assert.strictEqual(pages.length, Math.ceil(counts[entity] / data.pageSize(entity)), entity)
        assert.deepStrictEqual(ids(recordsOf(pages)), ids(fake.records(merchant, entity)), entity)
        assert.deepStrictEqual(
          recordsOf(pages).map((r) => r.raw),
          [...fake.records(merchant, entity)],
          `${entity}: raw is Square's object`
        )
        assert.isTrue(
          recordsOf(pages).every((r) => !r.deleted),
          entity
        )
        assert.isNotNull(pages.at(-1)!.watermark, entity)
      }
      // Payments were seeded over 400 days: ListPayments' one-year default would have hidden the oldest.
      const customers = yield* data.page(request("customer", cred))
      assert.strictEqual(customers.total, 250)

      const orders = yield* pass(request("order", cred), data)
      assert.deepStrictEqual(sorted(ids(recordsOf(orders))), sorted(ids(fake.records(merchant, "order"))))
      assert.strictEqual(orders.length, 3, "1100 orders at 500 a page, locations listed by the first")
      assert.strictEqual(fake.dataRequests(merchant).filter((r) => r.path === "GET /v2/locations").length, 1)
    })
  )

  it.live("orders of a seller with more than ten locations are searched ten locations at a time", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const locations = fake.addLocations(merchant, 11)
      fake.seed(merchant, "order", 1200)
      const pages = yield* pass(request("order", credential(merchant)))
      assert.deepStrictEqual(sorted(ids(recordsOf(pages))), sorted(ids(fake.records(merchant, "order"))))
      const searches = fake.dataRequests(merchant).filter((r) => r.path === "POST /v2/orders/search")
      assert.strictEqual(locations.length, 12)
      assert.isAtLeast(searches.length, 3)
    })
  )

  it.live("a pass resumed from a stored mid-pass cursor continues exactly where it stopped", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      fake.addLocations(merchant, 10)
      for (const entity of entities) fake.seed(merchant, entity, entity === "product" ? 2100 : 1100)
      const data = yield* adapter()
      const cred = credential(merchant)
      for (const entity of entities) {
        const whole = yield* pass(request(entity, cred), data)
        assert.isAtLeast(whole.length, 3, entity)
        const stored = whole[1]!.nextCursor
        const resumed = yield* pass(request(entity, cred, { cursor: stored }), data)
        assert.deepStrictEqual(
          ids(recordsOf(resumed)),
          ids(recordsOf(whole.slice(2))),
          `${entity} resumes after page 2`
        )
        assert.deepStrictEqual(resumed.at(-1)!.watermark, whole.at(-1)!.watermark, entity)
      }
    })
  )

  it.live("an incremental pass returns exactly the creates, updates and catalog deletions since the watermark", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      for (const entity of entities) fake.seed(merchant, entity, 150)
      const data = yield* adapter()
      const cred = credential(merchant)
      const watermarks: Partial<Record<EntityType, Date | null>> = {}
      for (const entity of entities) watermarks[entity] = (yield* pass(request(entity, cred), data)).at(-1)!.watermark

      const [c1, c2, c3] = fake.records(merchant, "customer")
      const created = fake.upsertRecord(merchant, "customer", { given_name: "New", family_name: "Patron" })
      fake.upsertRecord(merchant, "customer", { id: String(c1!.id), note: "moved to the balcony" })
      fake.deleteRecord(merchant, "customer", String(c2!.id))

      const [p1, p2] = fake.records(merchant, "product")
      const item = fake.upsertRecord(merchant, "product", {})
      fake.upsertRecord(merchant, "product", { id: String(p1!.id), present_at_all_locations: false })
      fake.deleteRecord(merchant, "product", String(p2!.id))

      const [o1] = fake.records(merchant, "order")
      const order = fake.upsertRecord(merchant, "order", {})
      fake.upsertRecord(merchant, "order", { id: String(o1!.id), state: "CANCELED" })

      const [y1] = fake.records(merchant, "payment")
      const payment = fake.upsertRecord(merchant, "payment", {})
      fake.upsertRecord(merchant, "payment", { id: String(y1!.id), status: "CANCELED" })

      const changes = (entity: EntityType) =>
        Effect.map(
          pass(request(entity, cred, { mode: "incremental", since: watermarks[entity] ?? null }), data),
          recordsOf
        )

      // A deleted customer leaves no trace in Square: only the next full pass misses it.
      const customers = yield* changes("customer")
      assert.deepStrictEqual(sorted(ids(customers)), sorted([String(c1!.id), String(created.id)]))
      assert.strictEqual(customers.find((r) => r.externalId === c1!.id)!.raw.note, "moved to the balcony")
      assert.notInclude(ids(customers), String(c3!.id))

      const products = yield* changes("product")
      assert.deepStrictEqual(sorted(ids(products)), sorted([String(p1!.id), String(p2!.id), String(item.id)]))
      assert.deepStrictEqual(
        products.filter((r) => r.deleted).map((r) => [r.externalId, r.raw.is_deleted]),
        [[String(p2!.id), true]]
      )

      const orders = yield* changes("order")
      assert.deepStrictEqual(sorted(ids(orders)), sorted([String(o1!.id), String(order.id)]))
      assert.strictEqual(orders.find((r) => r.externalId === o1!.id)!.raw.state, "CANCELED")

      const payments = yield* changes("payment")
      assert.deepStrictEqual(sorted(ids(payments)), sorted([String(y1!.id), String(payment.id)]))

      // The next full pass no longer has the deleted customer or item.
      const live = recordsOf(yield* pass(request("customer", cred), data))
      assert.notInclude(ids(live), String(c2!.id))
      const items = recordsOf(yield* pass(request("product", cred), data))
      assert.notInclude(ids(items), String(p2!.id))
    })
  )

  it.live("the catalog's watermark is Square's latest_time; the others' Square's clock less a minute", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      fake.seed(merchant, "product", 3)
      fake.seed(merchant, "customer", 3)
      const cred = credential(merchant)
      const items = yield* pass(request("product", cred))
      const latest = Math.max(...fake.records(merchant, "product").map((r) => Date.parse(String(r.updated_at))))
      assert.strictEqual(items.at(-1)!.watermark!.getTime(), latest)
      const before = Date.now()
      const customers = yield* pass(request("customer", cred))
      const watermark = customers.at(-1)!.watermark!.getTime()
      assert.isAtMost(watermark, before - 59_000)
      assert.isAtLeast(watermark, before - 62_000)
    })
  )

  it.live("429 is rate_limited with Retry-After (1 s without one); the per-merchant limit answers 429 too", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const data = yield* adapter()
      const r = request("customer", credential(merchant))
      fake.inject({ status: 429, retryAfterSeconds: 7, times: 1, accountId: merchant })
      const limited = yield* failureOf(data, r)
      assert.strictEqual(limited.kind, "rate_limited")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.retryAfterMillis, 7000)
      assert.include(limited.message, "RATE_LIMITED")

      fake.inject({ status: 429, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(data, r)).retryAfterMillis, 1000)

      fake.setRateLimit(merchant, { limit: 2, windowMs: 60_000 })
      yield* data.page(r)
      yield* data.page(r)
      const over = yield* failureOf(data, r)
      assert.strictEqual(over.kind, "rate_limited")
      assert.isAbove(over.retryAfterMillis!, 55_000)
      fake.setRateLimit(merchant, null)
      yield* data.page(r)
      assert.strictEqual(fake.dataRequests(merchant).length, 6, "every call counted, answered or not")
    })
  )

  it.live("5xx storms, timeouts and unreachable hosts are unavailable", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const data = yield* adapter()
      const r = request("payment", credential(merchant))
      fake.inject({ status: 503, accountId: merchant })
      for (let n = 0; n < 3; n++) {
        const failed = yield* failureOf(data, r)
        assert.strictEqual(failed.kind, "unavailable")
        assert.strictEqual(failed.status, 503)
      }
      fake.clearInjections()
      fake.inject({ status: 500, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(data, r)).kind, "unavailable")
      yield* data.page(r)

      const slow = yield* adapter({ PROVIDER_TIMEOUT: "200 millis" })
      fake.setDataLatency(600)
      const timedOut = yield* failureOf(slow, r).pipe(Effect.ensuring(Effect.sync(() => fake.setDataLatency(0))))
      assert.strictEqual(timedOut.kind, "unavailable")
      assert.include(timedOut.message, "timed out")

      const nowhere = yield* adapter({ SQUARE_BASE_URL: "http://127.0.0.1:1" })
      const unreachable = yield* failureOf(nowhere, r)
      assert.strictEqual(unreachable.kind, "unavailable")
      assert.isNull(unreachable.status)
    })
  )

  it.live("401 (expired token), 403 (missing scope), 404 and other 4xx map to their kinds, without the token", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const data = yield* adapter()
      const token = fake.issueAccessToken(merchant)
      fake.expireAccessToken(token)
      const expired = yield* failureOf(data, request("customer", credential(merchant, token)))
      assert.strictEqual(expired.kind, "unauthorized")
      assert.strictEqual(expired.status, 401)
      assert.include(expired.message, "ACCESS_TOKEN_EXPIRED")
      assert.notInclude(expired.message, token)

      const customersOnly = credential(merchant, fake.issueAccessToken(merchant, ["CUSTOMERS_READ"]))
      const forbidden = yield* failureOf(data, request("payment", customersOnly))
      assert.strictEqual(forbidden.kind, "forbidden")
      assert.include(forbidden.message, "INSUFFICIENT_SCOPES")
      yield* data.page(request("customer", customersOnly))

      const cred = credential(merchant)
      fake.inject({ status: 404, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(data, request("product", cred))).kind, "not_found")
      fake.inject({ status: 400, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(data, request("product", cred))).kind, "rejected")

      // A cursor from another pass (or not ours at all) is refused before any call.
      fake.seed(merchant, "customer", 150)
      const first = yield* data.page(request("customer", cred))
      const elsewhere = yield* failureOf(data, request("payment", cred, { cursor: first.nextCursor }))
      assert.strictEqual(elsewhere.kind, "rejected")
      assert.strictEqual((yield* failureOf(data, request("payment", cred, { cursor: "garbage" }))).kind, "rejected")
      assert.strictEqual((yield* failureOf(data, request("invoice", cred))).kind, "rejected")
    })
  )

  it.live("the default inbound template maps every record of every entity with no error", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const data = yield* adapter()
      const cred = credential(merchant)
      for (const entity of entities) {
        fake.seed(merchant, entity, 60)
        fake.upsertRecord(merchant, entity, {})
      }
      fake.deleteRecord(merchant, "product", String(fake.records(merchant, "product")[0]!.id))
      for (const entity of entities) {
        const template = defaultTemplate("square", entity, "inbound")
        assert.isDefined(template, entity)
        const map = compileRules(template!.rules, canonicalCatalogs[entity])
        const records = recordsOf(yield* pass(request(entity, cred, { mode: "incremental", since: new Date(0) }), data))
        assert.isAtLeast(records.length, 61, entity)
        for (const record of records)
          assert.deepStrictEqual(map(record.raw).errors, [], `${entity} ${record.externalId}`)
      }
    })
  )

  it.live("seeding 100,000 records is quick and their pages stay quick", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const started = performance.now()
      fake.seed(merchant, "customer", 100_000)
      // Well under a second on a quiet machine; the bound leaves room for a loaded CI runner.
      assert.isBelow(performance.now() - started, 5000)
      assert.strictEqual(fake.records(merchant, "customer").length, 100_000)
      const data = yield* adapter()
      const cred = credential(merchant)
      const first = yield* data.page(request("customer", cred))
      const paged = performance.now()
      yield* data.page(request("customer", cred, { cursor: first.nextCursor }))
      assert.isBelow(performance.now() - paged, 500)
      assert.strictEqual(first.total, 100_000)
    })
  )
})
