import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeQuickBooksData } from "../../adapters/providers/quickbooks/QuickBooksData.ts"
import { canonicalCatalogs } from "../../domain/canonical/EntityType.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { DataCredential, Page, PageRequest, ProviderRecord } from "../../ports/sync/ProviderData.ts"
import { type FakeQuickBooks, startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import type { FakeQuickBooksEntityType } from "../sandbox/FakeQuickBooksData.ts"

let fake: FakeQuickBooks
beforeAll(async () => {
  fake = await startFakeQuickBooks()
})
afterAll(() => fake.close())

const entityTypes: ReadonlyArray<FakeQuickBooksEntityType> = ["customer", "product", "order", "invoice", "payment"]
let realms = 0
/** Each test reads its own company, so seeds and request logs never mix. */
const newRealm = () => `93414500000${String(++realms).padStart(5, "0")}`

const adapter = (settings: Record<string, string> = {}) =>
  makeQuickBooksData.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ QUICKBOOKS_BASE_URL: fake.url, ...settings }))),
    Effect.orDie
  )

const credential = (realm: string, token = fake.accessTokenFor(realm)): DataCredential => ({
  token: Redacted.make(token),
  accountId: realm,
  extra: {},
  audienceId: null
})

const request = (
  credential: DataCredential,
  entityType: FakeQuickBooksEntityType,
  options: Partial<Pick<PageRequest, "mode" | "since" | "cursor">> = {}
): PageRequest => ({ entityType, credential, mode: "full", since: null, cursor: null, ...options })

/** A whole pass from `cursor`, every page kept. */
const pass = (first: PageRequest) =>
  Effect.gen(function* () {
    const data = yield* adapter()
    const pages: Array<Page> = []
    let cursor = first.cursor
    do {
      const page = yield* data.page({ ...first, cursor })
      pages.push(page)
      cursor = page.nextCursor
    } while (cursor !== null)
    return pages
  })

const nth = <A>(list: ReadonlyArray<A>, i: number): A => {
  const found = list[i]
  if (found === undefined) throw new Error(`no element ${i}`)
  return found
}

const ids = (records: ReadonlyArray<ProviderRecord | { readonly Id: string }>) =>
  records.map((r) => ("externalId" in r ? r.externalId : r.Id))

describe("QuickBooksData against the sandbox fake", () => {
  it.live("a full pass pages by STARTPOSITION and returns exactly the company's live objects", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "customer", 2500)
      const pages = yield* pass(request(credential(realm), "customer"))
      assert.deepStrictEqual(
        pages.map((p) => p.records.length),
        [1000, 1000, 500]
      )
      const records = pages.flatMap((p) => p.records)
      assert.deepStrictEqual(
        records.map((r) => r.raw),
        [...fake.records(realm, "customer")]
      )
      assert.isTrue(records.every((r) => !r.deleted))
      assert.deepStrictEqual(
        pages.map((p) => p.watermark === null),
        [true, true, false]
      )
      const paths = fake.dataRequests(realm).map((r) => decodeURIComponent(r.path))
      assert.lengthOf(paths, 3)
      assert.include(paths[1], "select * from Customer ORDERBY Id STARTPOSITION 1001 MAXRESULTS 1000")
      assert.include(paths[1], "minorversion=75")
    })
  )

  it.live("a pass resumed from a stored mid-pass cursor continues exactly; a full last page ends on an empty one", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "order", 2000)
      const whole = yield* pass(request(credential(realm), "order"))
      assert.deepStrictEqual(
        whole.map((p) => p.records.length),
        [1000, 1000, 0]
      )
      const resumed = yield* pass(request(credential(realm), "order", { cursor: whole[0]?.nextCursor ?? null }))
      assert.deepStrictEqual(
        resumed.map((p) => ids(p.records)),
        whole.slice(1).map((p) => ids(p.records))
      )
      assert.deepStrictEqual(resumed.at(-1)?.watermark, whole.at(-1)?.watermark)
    })
  )

  it.live("an incremental pass returns exactly the creates, updates and deletes since the full pass", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "customer", 30)
      fake.seed(realm, "order", 30)
      const creds = credential(realm)
      const watermarks = {
        customer: (yield* pass(request(creds, "customer"))).at(-1)?.watermark ?? null,
        order: (yield* pass(request(creds, "order"))).at(-1)?.watermark ?? null
      }
      assert.isNotNull(watermarks.customer)
      const c1 = nth(fake.records(realm, "customer"), 0)
      const c2 = nth(fake.records(realm, "customer"), 1)
      const o1 = nth(fake.records(realm, "order"), 0)
      const o2 = nth(fake.records(realm, "order"), 1)
      const createdCustomer = fake.upsertRecord(realm, "customer", { GivenName: "New", FamilyName: "Patron" })
      fake.upsertRecord(realm, "customer", { Id: c1.Id, FamilyName: "Renamed" })
      fake.deleteRecord(realm, "customer", c2.Id)
      const createdOrder = fake.upsertRecord(realm, "order")
      fake.upsertRecord(realm, "order", { Id: o1.Id, PrivateNote: "changed" })
      fake.deleteRecord(realm, "order", o2.Id)

      const customers = yield* pass(request(creds, "customer", { mode: "incremental", since: watermarks.customer }))
      assert.lengthOf(customers, 1)
      const changedCustomers = customers[0]?.records ?? []
      assert.sameMembers(ids(changedCustomers), [createdCustomer.Id, c1.Id, c2.Id])
      const byId = new Map(changedCustomers.map((r) => [r.externalId, r]))
      assert.strictEqual(byId.get(c1.Id)?.raw.FamilyName, "Renamed")
      // QuickBooks never deletes a customer: it is made inactive, which the adapter reports as gone.
      assert.deepInclude(byId.get(c2.Id), { deleted: true })
      assert.strictEqual(byId.get(c2.Id)?.raw.Active, false)
      assert.isFalse(byId.get(createdCustomer.Id)?.deleted)
      assert.isNotNull(customers[0]?.watermark ?? null)

      const orders = (yield* pass(request(creds, "order", { mode: "incremental", since: watermarks.order }))).flatMap(
        (p) => p.records
      )
      assert.sameMembers(ids(orders), [createdOrder.Id, o1.Id, o2.Id])
      const deleted = orders.find((r) => r.externalId === o2.Id)
      assert.deepInclude(deleted, { deleted: true })
      assert.strictEqual(deleted?.raw.status, "Deleted")
      assert.isTrue(orders.filter((r) => r.externalId !== o2.Id).every((r) => !r.deleted))

      // The live set the next full pass reads agrees: the inactive customer and the deleted receipt are gone.
      assert.notInclude(ids(fake.records(realm, "customer")), c2.Id)
      assert.notInclude(ids(fake.records(realm, "order")), o2.Id)
    })
  )

  it.live("a saturated CDC answer narrows the window: every change once, a note per narrowing", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "invoice", 2500, 3_600_000)
      const since = new Date(Date.now() - 2 * 86_400_000)
      const pages = yield* pass(request(credential(realm), "invoice", { mode: "incremental", since }))
      const records = pages.flatMap((p) => p.records)
      assert.deepStrictEqual(ids(records), ids(fake.records(realm, "invoice")))
      assert.isAtLeast(pages.length, 3)
      assert.isTrue(pages.slice(0, -1).every((p) => p.notes.length === 1 && p.watermark === null))
      assert.match(pages[0]?.notes[0] ?? "", /cap of 1000 Invoice objects/)
      assert.isNotNull(pages.at(-1)?.watermark ?? null)
      const resumed = yield* pass(
        request(credential(realm), "invoice", { mode: "incremental", since, cursor: pages[0]?.nextCursor ?? null })
      )
      assert.deepStrictEqual(ids(resumed.flatMap((p) => p.records)), ids(pages.slice(1).flatMap((p) => p.records)))
    })
  )

  it.live("CDC keeps 30 days: an older watermark (or none) asks for a full sync without a call", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      const data = yield* adapter()
      const creds = credential(realm)
      const old = yield* data
        .page(request(creds, "payment", { mode: "incremental", since: new Date(Date.now() - 31 * 86_400_000) }))
        .pipe(Effect.flip)
      assert.strictEqual(old._tag, "HistoryExpired")
      const none = yield* data.page(request(creds, "payment", { mode: "incremental" })).pipe(Effect.flip)
      assert.strictEqual(none._tag, "HistoryExpired")
      assert.lengthOf(fake.dataRequests(realm), 0)
    })
  )

  it.live("failures map to their kind with Intuit's reason and never the token", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "product", 3)
      const data = yield* adapter()
      const token = fake.accessTokenFor(realm)
      const creds = credential(realm, token)
      const fail = (c: DataCredential = creds) =>
        data.page(request(c, "product")).pipe(
          Effect.flip,
          Effect.map((e) => {
            assert.strictEqual(e._tag, "ProviderCallFailed")
            assert.notInclude(e.message, token)
            return e._tag === "ProviderCallFailed" ? e : assert.fail("not a call failure")
          })
        )

      fake.inject({ status: 429, retryAfterSeconds: 7, times: 1 })
      assert.deepInclude(yield* fail(), { kind: "rate_limited", status: 429, retryAfterMillis: 7000 })
      fake.inject({ status: 429, times: 1 })
      const throttled = yield* fail()
      assert.deepInclude(throttled, { kind: "rate_limited", retryAfterMillis: 60_000 })
      assert.include(throttled.message, "ThrottleExceeded")

      fake.inject({ status: 503 })
      assert.deepInclude(yield* fail(), { kind: "unavailable", status: 503 })
      assert.deepInclude(yield* fail(), { kind: "unavailable", status: 503 })
      fake.clearInjections()

      fake.inject({ status: 200, times: 1 })
      assert.deepInclude(yield* fail(), { kind: "rejected", status: 200 })
      fake.inject({ status: 400, times: 1 })
      assert.deepInclude(yield* fail(), { kind: "rejected", status: 400 })
      fake.inject({ status: 404, times: 1 })
      assert.deepInclude(yield* fail(), { kind: "not_found", status: 404 })
      fake.inject({ status: 403, times: 1 })
      const forbidden = yield* fail()
      assert.deepInclude(forbidden, { kind: "forbidden", status: 403 })
      assert.include(forbidden.message, "ApplicationAuthorizationFailed")
      // A token of another company opens nothing here.
      assert.deepInclude(yield* fail(credential(realm, fake.accessTokenFor(newRealm()))), { kind: "forbidden" })

      fake.expireAccessToken(token)
      const expired = yield* fail()
      assert.deepInclude(expired, { kind: "unauthorized", status: 401 })
      assert.include(expired.message, "AuthenticationFailed")

      const slow = yield* adapter({ PROVIDER_TIMEOUT: "200 millis" })
      fake.setDataDelay(1000)
      const timedOut = yield* slow.page(request(credential(realm), "product")).pipe(Effect.flip)
      fake.setDataDelay(0)
      assert.deepInclude(timedOut, { kind: "unavailable", status: null })

      assert.deepInclude(yield* fail({ ...creds, accountId: null }), { kind: "unauthorized" })
      assert.deepInclude(yield* data.page({ ...request(creds, "product"), entityType: "contact" }).pipe(Effect.flip), {
        kind: "rejected"
      })
    })
  )

  it.live("the fake's per-company budget answers 429 ThrottleExceeded with Retry-After above it", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      fake.seed(realm, "customer", 1)
      fake.setRateLimit(realm, { limit: 3, windowMs: 60_000 })
      const data = yield* adapter()
      const creds = credential(realm)
      for (let i = 0; i < 3; i++) yield* data.page(request(creds, "customer"))
      const over = yield* data.page(request(creds, "customer")).pipe(Effect.flip)
      assert.deepInclude(over, { kind: "rate_limited", status: 429 })
      const wait = over._tag === "ProviderCallFailed" ? (over.retryAfterMillis ?? 0) : 0
      assert.isTrue(wait > 0 && wait <= 60_000)
      fake.setRateLimit(realm, null)
      const at = fake.dataRequests(realm).map((r) => r.at)
      assert.lengthOf(at, 4)
      const most = Math.max(...at.map((t) => at.filter((u) => u >= t && u < t + 60_000).length))
      assert.strictEqual(most, 4)
    })
  )

  it.live("the default inbound template maps every record of each entity type without an error", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      const creds = credential(realm)
      for (const entityType of entityTypes) {
        fake.seed(realm, entityType, 60)
        const template = defaultTemplate("quickbooks", entityType, "inbound")
        assert.isDefined(template, entityType)
        const map = compileRules(template?.rules ?? [], canonicalCatalogs[entityType])
        const records = (yield* pass(request(creds, entityType))).flatMap((p) => p.records)
        assert.lengthOf(records, 60)
        for (const record of records) {
          const outcome = map(record.raw)
          assert.deepStrictEqual(outcome.errors, [], `${entityType} ${record.externalId}`)
          assert.strictEqual(outcome.output.id, record.externalId)
        }
      }
    })
  )

  // Seeded objects are built when first read; the bound leaves room for a machine shared with other suites.
  it.live("seeds 100,000 objects in a few seconds at most, and reads them a page at a time", () =>
    Effect.gen(function* () {
      const realm = newRealm()
      const started = performance.now()
      fake.seed(realm, "customer", 100_000)
      assert.isBelow(performance.now() - started, 5000)
      const data = yield* adapter()
      const last = yield* data.page(
        request(credential(realm), "customer", {
          cursor: JSON.stringify({ mode: "full", position: 99_001, startedAt: new Date().toISOString() })
        })
      )
      assert.strictEqual(last.records.length, 1000)
      assert.strictEqual(last.records.at(-1)?.externalId, "100000")
    })
  )
})
