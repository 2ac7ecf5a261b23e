import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Redacted } from "effect"
import { makeStripeData } from "../../adapters/providers/stripe/StripeData.ts"
import { canonicalCatalogs, type EntityType } from "../../domain/canonical/EntityType.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type {
  DataCredential,
  HistoryExpired,
  Page,
  PageRequest,
  ProviderCallFailed,
  ProviderRecord
} from "../../ports/sync/ProviderData.ts"
import { type FakeStripe, type FakeStripeEntity, startFakeStripe } from "../sandbox/FakeStripe.ts"

let fake: FakeStripe
beforeAll(async () => {
  fake = await startFakeStripe()
})
afterAll(() => fake.close())

let keys = 0
/** Each test reads its own account, so seeds, events and request logs never mix. */
const newAccount = (options: { readonly allowedPaths?: ReadonlyArray<string> } = {}) => {
  const key = `sk_test_datakey${String(++keys).padStart(6, "0")}`
  return { key, accountId: fake.addKey(key, options).accountId }
}

const adapter = (settings: Record<string, string> = {}) =>
  makeStripeData.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ STRIPE_API_BASE_URL: fake.url, ...settings }))),
    Effect.orDie
  )

const credential = (account: { readonly key: string; readonly accountId: string }): DataCredential => ({
  token: Redacted.make(account.key),
  accountId: account.accountId,
  extra: {},
  audienceId: null
})

const request = (
  account: { readonly key: string; readonly accountId: string },
  entityType: EntityType,
  options: Partial<Pick<PageRequest, "mode" | "since" | "cursor">> = {}
): PageRequest => ({ entityType, credential: credential(account), mode: "full", since: null, cursor: null, ...options })

/** A whole pass from `first.cursor`, every page kept. */
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

const recordsOf = (pages: ReadonlyArray<Page>) => pages.flatMap((p) => p.records)
const ids = (records: ReadonlyArray<ProviderRecord>) => records.map((r) => r.externalId)

/** What an engine applying the pass in order ends with: the last record of each object. */
const applied = (records: ReadonlyArray<ProviderRecord>) => new Map(records.map((r) => [r.externalId, r]))

/** The page's failure (the test fails if the page succeeded or died). */
const failureOf = (r: PageRequest, settings: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const data = yield* adapter(settings)
    const exit = yield* Effect.exit(data.page(r))
    if (Exit.isSuccess(exit)) return assert.fail("the page succeeded")
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    if (error === undefined) return assert.fail(`the page died: ${String(exit.cause)}`)
    return error.error as ProviderCallFailed | HistoryExpired
  })

const assertMapsCleanly = (entityType: EntityType, records: ReadonlyArray<ProviderRecord>) => {
  const template = defaultTemplate("stripe", entityType, "inbound")
  assert.isDefined(template)
  const mapping = compileRules(template!.rules, canonicalCatalogs[entityType])
  for (const record of records) {
    const outcome = mapping(record.raw)
    assert.deepStrictEqual(outcome.errors, [], `${entityType} ${record.externalId}`)
  }
}

const entities: ReadonlyArray<FakeStripeEntity> = ["customer", "product", "order", "invoice", "payment"]

describe("StripeData against the sandbox fake", () => {
  it.live("a full pass lists every live object newest first, 100 a page, and the default template maps them", () =>
    Effect.gen(function* () {
      const account = newAccount()
      for (const entity of entities) fake.seed(account.accountId, entity, entity === "customer" ? 250 : 120)
      for (const entity of entities) {
        const pages = yield* pass(request(account, entity))
        const expected = fake.records(account.accountId, entity)
        assert.strictEqual(pages.length, Math.ceil(expected.length / 100))
        assert.deepStrictEqual(
          ids(recordsOf(pages)),
          expected.map((r) => r.id as string)
        )
        for (const record of recordsOf(pages)) assert.isFalse(record.deleted)
        if (entity === "product") {
          const price = recordsOf(pages)[0]!.raw.default_price as Record<string, unknown>
          assert.strictEqual(price.object, "price")
        } else {
          assert.deepStrictEqual(
            recordsOf(pages).map((r) => r.raw),
            expected
          )
        }
        assertMapsCleanly(entity, recordsOf(pages))
        assert.isTrue(pages.every((p) => p.total === null && p.watermark !== null))
      }
      const paths = fake.dataRequests(account.accountId).map((r) => r.path)
      assert.strictEqual(paths.filter((p) => p === "/v1/customers").length, 3)
    })
  )

  it.live("a pass resumed from a stored cursor continues exactly where it stopped", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "order", 330)
      const whole = recordsOf(yield* pass(request(account, "order")))
      const data = yield* adapter()
      const first = yield* data.page(request(account, "order"))
      const second = yield* data.page(request(account, "order", { cursor: first.nextCursor }))
      const again = yield* data.page(request(account, "order", { cursor: first.nextCursor }))
      assert.deepStrictEqual(ids(again.records), ids(second.records))
      const rest = recordsOf(yield* pass(request(account, "order", { cursor: second.nextCursor })))
      assert.deepStrictEqual(ids([...first.records, ...second.records, ...rest]), ids(whole))
    })
  )

  it.live("an incremental pass returns the creates, updates and deletions since the watermark, newest last", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "customer", 300)
      const seeded = fake.records(account.accountId, "customer")
      // An older change, so there is an event before `since` to walk up from.
      fake.upsertRecord(account.accountId, "customer", { id: seeded[299]!.id, email: "old.change@example.com" })
      fake.advanceClock(600)
      const full = yield* pass(request(account, "customer"))
      const since = full.at(-1)!.watermark!
      fake.advanceClock(120)
      const twice = seeded[5]!.id as string
      fake.upsertRecord(account.accountId, "customer", { id: twice, email: "first@example.com" })
      const updated = seeded.slice(10, 130).map((c) => c.id as string)
      for (const id of updated) fake.upsertRecord(account.accountId, "customer", { id, phone: "+13125550100" })
      fake.upsertRecord(account.accountId, "customer", { id: twice, email: "second@example.com" })
      const created = [1, 2].map((i) =>
        fake.upsertRecord(account.accountId, "customer", { email: `n${i}@example.com` })
      )
      const gone = seeded[200]!.id as string
      fake.deleteRecord(account.accountId, "customer", gone)
      fake.advanceClock(120)

      const pages = yield* pass(request(account, "customer", { mode: "incremental", since }))
      assert.isTrue(
        pages.every((p) => p.notes.length === 0),
        "walked up from the older event"
      )
      const result = applied(recordsOf(pages))
      const live = new Map(fake.records(account.accountId, "customer").map((c) => [c.id as string, c]))
      const changed = [twice, ...updated, ...created.map((c) => c.id as string)]
      assert.sameMembers([...result.keys()], [...changed, gone])
      for (const id of changed) {
        assert.isFalse(result.get(id)!.deleted)
        assert.deepStrictEqual(result.get(id)!.raw, live.get(id))
      }
      assert.strictEqual(result.get(twice)!.raw.email, "second@example.com")
      assert.isTrue(result.get(gone)!.deleted)
      assert.strictEqual(result.get(gone)!.raw.id, gone)
      assertMapsCleanly("customer", recordsOf(pages))
      assert.isAtLeast(pages.at(-1)!.watermark!.getTime(), since.getTime())

      // The watermark trails Stripe's clock by a minute: changes older than that are not answered again.
      const quiet = yield* pass(request(account, "customer", { mode: "incremental", since: pages.at(-1)!.watermark! }))
      assert.deepStrictEqual(recordsOf(quiet), [])
    })
  )

  it.live("without an event before since it reads events newest first and answers each object once, newest", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "invoice", 200)
      const seeded = fake.records(account.accountId, "invoice")
      const since = (yield* pass(request(account, "invoice"))).at(-1)!.watermark!
      fake.advanceClock(120)
      const twice = seeded[3]!.id as string
      fake.upsertRecord(account.accountId, "invoice", { id: twice, description: "first" })
      for (const invoice of seeded.slice(20, 140)) {
        fake.upsertRecord(account.accountId, "invoice", { id: invoice.id, description: "reminded" })
      }
      fake.upsertRecord(account.accountId, "invoice", { id: twice, description: "second" })
      fake.deleteRecord(account.accountId, "invoice", seeded[30]!.id as string)

      const pages = yield* pass(request(account, "invoice", { mode: "incremental", since }))
      assert.isTrue(pages.some((p) => p.notes.length > 0))
      const records = recordsOf(pages)
      assert.strictEqual(new Set(ids(records)).size, records.length)
      const result = applied(records)
      assert.strictEqual(result.size, 121)
      assert.strictEqual(result.get(twice)!.raw.description, "second")
      assert.isTrue(result.get(seeded[30]!.id as string)!.deleted)
      assertMapsCleanly("invoice", records)
    })
  )

  it.live("changed products come back with their default price expanded, as the template reads them", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "product", 20)
      const seeded = fake.records(account.accountId, "product")
      const since = (yield* pass(request(account, "product"))).at(-1)!.watermark!
      fake.advanceClock(120)
      fake.upsertRecord(account.accountId, "product", { id: seeded[0]!.id, name: "Hamlet (matinee)" })
      const added = fake.upsertRecord(account.accountId, "product", { name: "Carmen gala" })
      fake.deleteRecord(account.accountId, "product", seeded[1]!.id as string)
      const records = recordsOf(yield* pass(request(account, "product", { mode: "incremental", since })))
      const result = applied(records)
      assert.sameMembers([...result.keys()], [seeded[0]!.id, added.id, seeded[1]!.id])
      const changed = result.get(seeded[0]!.id as string)!
      assert.strictEqual(changed.raw.name, "Hamlet (matinee)")
      assert.strictEqual((changed.raw.default_price as Record<string, unknown>).object, "price")
      assert.strictEqual((result.get(added.id as string)!.raw.default_price as Record<string, unknown>).object, "price")
      assert.isTrue(result.get(seeded[1]!.id as string)!.deleted)
      const template = defaultTemplate("stripe", "product", "inbound")!
      const mapped = compileRules(template.rules, canonicalCatalogs.product)(changed.raw)
      assert.deepStrictEqual(mapped.errors, [])
      assert.isNumber(mapped.output.priceMinor)
    })
  )

  it.effect("a since older than Stripe's 30 days of events, or none, asks for a full sync", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const old = new Date(Date.now() - 31 * 86_400_000)
      const expired = yield* failureOf(request(account, "payment", { mode: "incremental", since: old }))
      assert.strictEqual(expired._tag, "HistoryExpired")
      const none = yield* failureOf(request(account, "payment", { mode: "incremental", since: null }))
      assert.strictEqual(none._tag, "HistoryExpired")
      assert.deepStrictEqual(fake.dataRequests(account.accountId), [])
    })
  )

  it.live("429, 5xx, timeouts, expired and restricted keys and missing anchors map to the port's kinds", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "customer", 5)
      const full = request(account, "customer")
      const kindOf = (r: PageRequest, settings?: Record<string, string>) =>
        failureOf(r, settings).pipe(Effect.map((e) => e as ProviderCallFailed))

      fake.inject({ status: 429, retryAfterSeconds: 7, times: 1 })
      const limited = yield* kindOf(full)
      assert.strictEqual(limited.kind, "rate_limited")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.retryAfterMillis, 7_000)
      fake.inject({ status: 429, times: 1 })
      assert.strictEqual((yield* kindOf(full)).retryAfterMillis, 1_000)

      fake.inject({ status: 503 })
      const storm = yield* kindOf(full)
      assert.strictEqual(storm.kind, "unavailable")
      assert.strictEqual(storm.status, 503)
      assert.strictEqual((yield* kindOf(full)).kind, "unavailable")
      fake.clearInjections()

      fake.inject({ latencyMs: 800, times: 1 })
      const slow = yield* kindOf(full, { PROVIDER_TIMEOUT: "200 millis" })
      assert.strictEqual(slow.kind, "unavailable")
      assert.isNull(slow.status)

      const data = yield* adapter()
      assert.strictEqual((yield* data.page(full)).records.length, 5)

      const missing = yield* kindOf({
        ...full,
        cursor: JSON.stringify({ phase: "objects", after: "cus_gone", start: 1, mark: 0 })
      })
      assert.strictEqual(missing.kind, "not_found")
      assert.strictEqual(missing.status, 404)

      const restricted = newAccount({ allowedPaths: ["/v1/balance"] })
      const forbidden = yield* kindOf(request(restricted, "customer"))
      assert.strictEqual(forbidden.kind, "forbidden")
      assert.notInclude(forbidden.message, restricted.key.slice(-4))

      fake.expireKey(account.key)
      const expired = yield* kindOf(full)
      assert.strictEqual(expired.kind, "unauthorized")
      assert.strictEqual(expired.status, 401)
      assert.match(expired.message, /Expired API Key/)
      assert.notInclude(expired.message, account.key)
      assert.notInclude(expired.message, account.key.slice(-4))

      // The slow request is logged on arrival and answers once its latency has passed.
      yield* Effect.sleep("800 millis")
      const statuses = fake.dataRequests(account.accountId).map((r) => r.status)
      assert.deepStrictEqual(statuses, [429, 429, 503, 503, 200, 200, 404])
    })
  )

  it.live("a per-account rate limit answers 429 with Retry-After above the budget, and every request is counted", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "payment", 450)
      fake.setRateLimit(account.accountId, { limit: 3, windowMs: 60_000 })
      const data = yield* adapter()
      let cursor: string | null = null
      for (let i = 0; i < 3; i++) cursor = (yield* data.page(request(account, "payment", { cursor }))).nextCursor
      const limited = (yield* failureOf(request(account, "payment", { cursor }))) as ProviderCallFailed
      assert.strictEqual(limited.kind, "rate_limited")
      assert.isAbove(limited.retryAfterMillis!, 0)
      assert.isAtMost(limited.retryAfterMillis!, 60_000)
      const log = fake.dataRequests(account.accountId)
      assert.deepStrictEqual(
        log.map((r) => [r.path, r.status]),
        [
          ["/v1/charges", 200],
          ["/v1/charges", 200],
          ["/v1/charges", 200],
          ["/v1/charges", 429]
        ]
      )
      assert.isTrue(log.every((r) => r.at <= Date.now() && r.at > Date.now() - 60_000))
      fake.setRateLimit(account.accountId, null)
      const rest = recordsOf(yield* pass(request(account, "payment", { cursor })))
      assert.strictEqual(rest.length, 150)
    })
  )

  it("seeds 100,000 records well under a few seconds", () => {
    const { accountId } = newAccount()
    // CPU time, not wall time: the machine running the suite may be busy with others.
    const started = process.cpuUsage()
    fake.seed(accountId, "customer", 100_000)
    const spent = process.cpuUsage(started)
    assert.isBelow((spent.user + spent.system) / 1000, 1_500)
    assert.strictEqual(fake.records(accountId, "customer").length, 100_000)
  })
})
