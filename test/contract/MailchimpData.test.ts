import { readFileSync } from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeMailchimpData } from "../../adapters/providers/mailchimp/MailchimpData.ts"
import { canonicalCatalogs } from "../../domain/canonical/EntityType.ts"
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
import { type FakeMailchimp, startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"

let fake: FakeMailchimp
beforeAll(async () => {
  fake = await startFakeMailchimp()
})
afterAll(() => fake.close())

let accounts = 0
/** Each test reads its own account, so seeds and request logs never mix. */
const newAccount = () => `us19:${9000 + ++accounts}`

/** The account's oldest audience (where the fake seeds), and its other one. */
const oldest = "5b3a7e9c21"
const other = "a1f0c3d2e4"

/** The adapter as the service builds it; the credential's `api_endpoint` (the fake) is where it goes by default. */
const adapter = (settings: Record<string, string> = {}) =>
  makeMailchimpData.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(settings))), Effect.orDie)

const credential = (
  account: string,
  options: { readonly audienceId?: string | null; readonly token?: string; readonly apiEndpoint?: string } = {}
): DataCredential => ({
  token: Redacted.make(options.token ?? fake.issueToken(account)),
  accountId: account,
  extra: { dc: fake.dc, apiEndpoint: options.apiEndpoint ?? fake.url },
  audienceId: options.audienceId === undefined ? oldest : options.audienceId
})

const request = (
  credential: DataCredential,
  options: Partial<Pick<PageRequest, "mode" | "since" | "cursor">> = {}
): PageRequest => ({ entityType: "contact", credential, mode: "full", since: null, cursor: null, ...options })

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
const ids = (records: ReadonlyArray<ProviderRecord | { readonly id: string }>) =>
  records.map((r) => ("externalId" in r ? r.externalId : r.id))
const sorted = (values: ReadonlyArray<string>) => [...values].sort()

/** The page's failure, which must be a provider call's (the test fails if the page succeeded). */
const failureOf = (data: ProviderDataAdapter, r: PageRequest) =>
  Effect.map(Effect.flip(data.page(r)), (error): ProviderCallFailed => {
    if (error._tag !== "ProviderCallFailed") return assert.fail(`expected ProviderCallFailed, got ${error._tag}`)
    return error
  })

describe("MailchimpData against the sandbox fake", () => {
  it.live("a full pass pages by count/offset in Mailchimp's order and returns exactly the audience's members", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 2500)
      const began = Date.now()
      const pages = yield* pass(request(credential(account)))
      const ended = Date.now()
      const records = recordsOf(pages)
      assert.deepStrictEqual<ReadonlyArray<unknown>>(
        records.map((r) => r.raw),
        fake.records(account, "contact")
      )
      assert.isTrue(records.every((r) => !r.deleted && r.externalId === r.raw.id))
      // Each page after the first starts 20 members early (read again, not returned again).
      assert.deepStrictEqual(
        pages.map((p) => p.records.length),
        [1000, 980, 520]
      )
      assert.isTrue(pages.every((p) => p.total === 2500))
      const paths = fake.dataRequests(account).map((r) => r.path)
      assert.deepStrictEqual(paths, [
        `/3.0/lists/${oldest}/members?count=1000&offset=0`,
        `/3.0/lists/${oldest}/members?count=1000&offset=980`,
        `/3.0/lists/${oldest}/members?count=1000&offset=1960`
      ])
      // The watermark is Mailchimp's clock when the pass began, on every page.
      const first = pages[0]!.watermark!
      assert.isTrue(first.getTime() >= Math.floor(began / 1000) * 1000 && first.getTime() <= ended)
      assert.isTrue(pages.every((p) => p.watermark?.getTime() === first.getTime()))
    })
  )

  it.live("without a chosen audience, the first page finds the account's oldest and the cursor keeps it", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 1500)
      fake.seed(account, "contact", 10, { listId: other })
      const pages = yield* pass(request(credential(account, { audienceId: null })))
      assert.deepStrictEqual(sorted(ids(recordsOf(pages))), sorted(ids(fake.records(account, "contact"))))
      const paths = fake.dataRequests(account).map((r) => r.path.split("?")[0])
      assert.deepStrictEqual(paths, ["/3.0/lists", `/3.0/lists/${oldest}/members`, `/3.0/lists/${oldest}/members`])
      const chosen = yield* pass(request(credential(account, { audienceId: other })))
      assert.deepStrictEqual(ids(recordsOf(chosen)), ids(fake.records(account, "contact", { listId: other })))
    })
  )

  it.live(
    "a pass resumed from a stored mid-pass cursor continues exactly, and the same request answers the same page",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        fake.seed(account, "contact", 3200)
        const whole = yield* pass(request(credential(account)))
        const cursor = whole[1]!.nextCursor
        assert.isNotNull(cursor)
        const resumed = yield* pass(request(credential(account), { cursor }))
        assert.deepStrictEqual(ids(recordsOf(resumed)), ids(recordsOf(whole.slice(2))))
        const data = yield* adapter()
        const again = yield* data.page(request(credential(account), { cursor: whole[0]!.nextCursor }))
        assert.deepStrictEqual(ids(again.records), ids(whole[1]!.records))
        assert.strictEqual(again.nextCursor, whole[1]!.nextCursor)
      })
  )

  it.live("members removed for good before the offset mid-pass shift nothing past the pass: none is skipped", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const seeded = fake.seed(account, "contact", 2500)
      const data = yield* adapter()
      const first = yield* data.page(request(credential(account)))
      for (const id of seeded.slice(100, 105)) fake.deleteRecord(account, "contact", id, { permanent: true })
      const rest = yield* pass(request(credential(account), { cursor: first.nextCursor }))
      const read = [...first.records, ...recordsOf(rest)]
      assert.deepStrictEqual(
        sorted(ids(read)),
        sorted([...ids(fake.records(account, "contact")), ...seeded.slice(100, 105)])
      )
      assert.strictEqual(new Set(ids(read)).size, read.length)
      assert.isTrue(rest.every((p) => p.notes.length === 0))
    })
  )

  it.live("an incremental pass returns exactly the creates, updates and archives since the watermark", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const seeded = fake.seed(account, "contact", 1800)
      const full = yield* pass(request(credential(account)))
      const since = full.at(-1)!.watermark
      assert.isNotNull(since)

      const created = [1, 2, 3].map((n) =>
        fake.upsertRecord(account, "contact", { email_address: `new.patron.${n}.${account}@example.test` })
      )
      const updated = seeded
        .slice(10, 12)
        .map((id) => fake.records(account, "contact").find((m) => m.id === id)!)
        .map((m) =>
          fake.upsertRecord(account, "contact", { email_address: m.email_address, merge_fields: { FNAME: "Renamed" } })
        )
      const archived = seeded.slice(20, 22)
      for (const id of archived) fake.deleteRecord(account, "contact", id)
      fake.deleteRecord(account, "contact", seeded[30]!, { permanent: true })

      const pages = yield* pass(request(credential(account), { mode: "incremental", since }))
      const records = recordsOf(pages)
      assert.deepStrictEqual(sorted(ids(records)), sorted([...ids(created), ...ids(updated), ...archived]))
      for (const r of records) {
        assert.strictEqual(r.deleted, archived.includes(r.externalId))
        if (r.deleted) assert.strictEqual(r.raw.status, "archived")
      }
      assert.deepStrictEqual(
        records.filter((r) => ids(updated).includes(r.externalId)).map((r) => (r.raw.merge_fields as any).FNAME),
        ["Renamed", "Renamed"]
      )
      assert.isTrue(
        fake.dataRequests(account).at(-1)!.path.includes("since_last_changed="),
        "the incremental read filters by last_changed"
      )

      // Once the changes are older than the next pass's start, the next incremental pass is empty.
      fake.advance(5000)
      const next = yield* pass(request(credential(account), { mode: "incremental", since: pages.at(-1)!.watermark }))
      const quiet = yield* pass(request(credential(account), { mode: "incremental", since: next.at(-1)!.watermark }))
      assert.deepStrictEqual(recordsOf(quiet), [])
      assert.isTrue(quiet.at(-1)!.watermark!.getTime() >= next.at(-1)!.watermark!.getTime())
    })
  )

  it.live("100,000 members seed quickly and the first page counts them all", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const started = performance.now()
      fake.seed(account, "contact", 100_000)
      // Well under a second on an idle machine; the bound leaves room for a busy one.
      assert.isBelow(performance.now() - started, 5000)
      const data = yield* adapter()
      const first = yield* data.page(request(credential(account)))
      assert.strictEqual(first.total, 100_000)
      assert.strictEqual(first.records.length, 1000)
      assert.strictEqual(data.pageSize("contact"), 1000)
    })
  )

  it.live("the default inbound template maps every member with no error, the fixture's older shape too", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 500)
      fake.deleteRecord(account, "contact", fake.records(account, "contact")[0]!.id)
      const records = recordsOf(yield* pass(request(credential(account))))
      const fixture = JSON.parse(
        readFileSync(new URL("../fixtures/sync/mailchimp/list_members_page.json", import.meta.url), "utf8")
      ) as { members: ReadonlyArray<unknown> }
      const map = compileRules(defaultTemplate("mailchimp", "contact", "inbound")!.rules, canonicalCatalogs.contact)
      for (const raw of [...records.map((r) => r.raw), ...fixture.members]) {
        const outcome = map(raw)
        assert.deepStrictEqual(outcome.errors, [], JSON.stringify(raw).slice(0, 200))
      }
      assert.isTrue(records.some((r) => r.deleted))
    })
  )

  it.live(
    "429 is rate_limited with Retry-After, else Mailchimp's 1 s; 5xx, timeouts and refused connections are unavailable",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        fake.seed(account, "contact", 5)
        const data = yield* adapter()
        const r = request(credential(account))

        fake.inject({ status: 429, retryAfterSeconds: 7, times: 1, accountId: account })
        const limited = yield* failureOf(data, r)
        assert.deepInclude(limited, { kind: "rate_limited", status: 429, retryAfterMillis: 7000 })
        assert.include(limited.message, "Too Many Requests")

        fake.inject({ status: 429, times: 1, accountId: account })
        assert.deepInclude(yield* failureOf(data, r), { kind: "rate_limited", retryAfterMillis: 1000 })

        fake.inject({ status: 503, accountId: account })
        for (let i = 0; i < 3; i++) assert.deepInclude(yield* failureOf(data, r), { kind: "unavailable", status: 503 })
        fake.clearInjections()
        fake.inject({ status: 500, times: 2, accountId: account })
        assert.deepInclude(yield* failureOf(data, r), { kind: "unavailable", status: 500 })
        assert.deepInclude(yield* failureOf(data, r), { kind: "unavailable", status: 500 })
        assert.strictEqual((yield* data.page(r)).records.length, 5)

        // Port 9 (discard) refuses connections on loopback.
        const refused = yield* failureOf(data, request(credential(account, { apiEndpoint: "http://127.0.0.1:9" })))
        assert.deepInclude(refused, { kind: "unavailable", status: null })

        const impatient = yield* adapter({ PROVIDER_TIMEOUT: "200 millis" })
        fake.setDataLatency(1000)
        const slow = yield* failureOf(impatient, r).pipe(Effect.ensuring(Effect.sync(() => fake.setDataLatency(0))))
        assert.deepInclude(slow, { kind: "unavailable", status: null })
        assert.include(slow.message, "200 ms")
      })
  )

  it.live(
    "401 (a removed app, an expired token) is unauthorized, 403 forbidden, 404 not_found, other 4xx rejected; no token in messages",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        const token = fake.issueToken(account)
        const data = yield* adapter()
        const r = request(credential(account, { token }))

        fake.inject({ status: 401, times: 1, accountId: account })
        const expired = yield* failureOf(data, r)
        assert.deepInclude(expired, { kind: "unauthorized", status: 401 })
        assert.include(expired.message, "API Key Invalid")

        fake.inject({ status: 403, times: 1, accountId: account })
        assert.deepInclude(yield* failureOf(data, r), { kind: "forbidden", status: 403 })

        const missing = yield* failureOf(data, request(credential(account, { token, audienceId: "0000000000" })))
        assert.deepInclude(missing, { kind: "not_found", status: 404 })
        assert.include(missing.message, "Resource Not Found")

        fake.inject({ status: 400, times: 1, accountId: account })
        assert.deepInclude(yield* failureOf(data, r), { kind: "rejected", status: 400 })

        fake.revokeToken(token)
        const revoked = yield* failureOf(data, r)
        assert.deepInclude(revoked, { kind: "unauthorized", status: 401 })
        for (const failure of [expired, missing, revoked]) assert.notInclude(failure.message, token)

        assert.deepInclude(yield* failureOf(data, { ...r, entityType: "customer" }), { kind: "rejected" })
      })
  )

  it.live("more than 10 requests of one account in flight meet 429; the fake counts the peak", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 5)
      const data = yield* adapter()
      fake.setDataLatency(300)
      const outcomes = yield* Effect.all(
        Array.from({ length: 14 }, () =>
          data
            .page(request(credential(account)))
            .pipe(Effect.match({ onSuccess: () => null, onFailure: (error) => error }))
        ),
        { concurrency: "unbounded" }
      ).pipe(Effect.ensuring(Effect.sync(() => fake.setDataLatency(0))))
      const failures = outcomes.filter((o) => o !== null)
      assert.strictEqual(failures.length, 4)
      assert.isTrue(
        failures.every(
          (f) => f._tag === "ProviderCallFailed" && f.kind === "rate_limited" && f.retryAfterMillis === 1000
        )
      )
      assert.strictEqual(fake.inFlightPeak(account), 10)
    })
  )

  it.live("a per-account rate limit answers 429 with Retry-After above it, and the request log counts per window", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 5)
      fake.setRateLimit(account, { limit: 3, windowMs: 60_000 })
      const data = yield* adapter()
      for (let i = 0; i < 3; i++) yield* data.page(request(credential(account)))
      const limited = yield* failureOf(data, request(credential(account)))
      assert.strictEqual(limited.kind, "rate_limited")
      assert.isTrue(limited.retryAfterMillis! > 0 && limited.retryAfterMillis! <= 60_000)
      fake.setRateLimit(account, null)
      const log = fake.dataRequests(account)
      assert.strictEqual(log.filter((r) => r.at > Date.now() - 60_000).length, 4)
    })
  )

  it.live("MAILCHIMP_API_BASE_URL sends every account's reads there instead of its api_endpoint", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account, "contact", 3)
      const data = yield* adapter({ MAILCHIMP_API_BASE_URL: `${fake.url}/` })
      const page = yield* data.page(request(credential(account, { apiEndpoint: "https://us19.api.mailchimp.com" })))
      assert.strictEqual(page.records.length, 3)
    })
  )
})
