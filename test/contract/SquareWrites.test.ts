import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeSquareData } from "../../adapters/providers/square/SquareData.ts"
import { makeSquareWrites } from "../../adapters/providers/square/SquareWrites.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { DataCredential } from "../../ports/sync/ProviderData.ts"
import type {
  ExternalLink,
  OutboundItem,
  ProviderWriter,
  WriteOutcome,
  WriteRequest
} from "../../ports/sync/ProviderWrites.ts"
import { bearerToken, json, serveReplies } from "../sandbox/FakeHttp.ts"
import { fakeSquareData } from "../sandbox/FakeSquareData.ts"
import { byPlatformId, failureOf, linkOf, newKey, noRecords, readPass } from "../support/WriterContract.ts"

/**
 * The Square fake's data routes behind a bearer token that names the merchant and its scopes. The OAuth server of
 * FakeSquare.ts hands `GET` and `POST /v2/…` only to the data fake; customer updates and deletions are `PUT` and
 * `DELETE`, so this suite serves the data fake itself.
 */
const startFake = async () => {
  const grants = new Map<string, { readonly merchant: string; readonly scopes: ReadonlyArray<string> }>()
  const data = fakeSquareData({ now: Date.now, merchantId: "MLFAKEMERCHANT01", businessName: "Fake Square Venue" })
  const error = (status: number, category: string, code: string, detail: string) =>
    json(status, { errors: [{ category, code, detail }] })
  const server = await serveReplies({
    respond: ({ req, url, route, body }) => {
      const grant = grants.get(bearerToken(req))
      if (grant === undefined) return error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Not authorized.")
      const served = data.serve({
        route,
        url,
        body: () => (body === "" ? {} : (JSON.parse(body) as Record<string, unknown>)),
        merchant: grant.merchant,
        scopes: grant.scopes
      })
      return served ?? error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", `No route for ${route}`)
    },
    malformed: () => error(400, "INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "Invalid JSON body."),
    beforeReply: data.delay
  })
  let tokens = 0
  return {
    ...data.controls,
    url: server.url,
    close: server.close,
    issueAccessToken: (
      merchant: string,
      scopes: ReadonlyArray<string> = [
        "MERCHANT_PROFILE_READ",
        "CUSTOMERS_READ",
        "CUSTOMERS_WRITE",
        "ITEMS_READ",
        "ITEMS_WRITE",
        "INVENTORY_WRITE"
      ]
    ) => {
      const token = `EAAAl-test-${++tokens}`
      grants.set(token, { merchant, scopes })
      return token
    }
  }
}

let fake: Awaited<ReturnType<typeof startFake>>
beforeAll(async () => {
  fake = await startFake()
})
afterAll(() => fake.close())

let merchants = 0
/** Each test writes to its own merchant, so stores, injections and request logs never mix. */
const newMerchant = () => `MLSQUAREWRITE${String(++merchants).padStart(4, "0")}`

const configured = <A>(make: Effect.Effect<A, unknown>) =>
  make.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ SQUARE_BASE_URL: fake.url }))),
    Effect.orDie
  )
const writer = () => configured(makeSquareWrites)

const credential = (merchant: string, token = fake.issueAccessToken(merchant)): DataCredential => ({
  token: Redacted.make(token),
  accountId: merchant,
  extra: {},
  audienceId: null
})

const item = (platformId: string, fields: Record<string, unknown> | null, link: ExternalLink | null = null) =>
  ({ platformId, version: 1, fields, deleted: false, link, idempotencyKey: newKey() }) satisfies OutboundItem

const deletion = (platformId: string, link: ExternalLink | null): OutboundItem => ({
  platformId,
  version: 2,
  fields: null,
  deleted: true,
  link,
  idempotencyKey: newKey()
})

/** The writer's calls, by operation, through a `call` that only counts. */
const push = (
  w: ProviderWriter,
  entityType: EntityType,
  cred: DataCredential,
  items: ReadonlyArray<OutboundItem>,
  operations: Array<string> = []
) => {
  const request: WriteRequest<never> = {
    entityType,
    credential: cred,
    items,
    call: (operation, effect) =>
      Effect.suspend(() => {
        operations.push(operation)
        return effect
      }),
    linkOf: () => Effect.succeed(null),
    recordsOf: noRecords
  }
  return w.write(request)
}

type Written = Extract<WriteOutcome, { readonly externalId: string }>
const written = (outcomes: ReadonlyArray<WriteOutcome>, platformId: string): Written => {
  const outcome = byPlatformId(outcomes).get(platformId)
  if (outcome === undefined || outcome.outcome === "failed")
    return assert.fail(`${platformId}: ${outcome === undefined ? "no outcome" : outcome.reason}`)
  return outcome
}
const reasonOf = (outcomes: ReadonlyArray<WriteOutcome>, platformId: string): string => {
  const outcome = byPlatformId(outcomes).get(platformId)
  if (outcome?.outcome !== "failed") return assert.fail(`${platformId} did not fail`)
  return outcome.reason
}

const product = (name: string, amount: number, count?: number) => ({
  type: "ITEM",
  item_data: {
    name,
    description: `${name}, doors at 7pm`,
    variations: [
      {
        item_variation_data: { name: "General admission", price_money: { amount, currency: "USD" } },
        ...(count === undefined ? {} : { inventory_count: count })
      }
    ]
  }
})

const requestsOf = (merchant: string, path: string) => fake.dataRequests(merchant).filter((r) => r.path === path)

/** A read of the entity through the reader (full, or incremental since `since`): what a later inbound pass sees. */
const readAll = (cred: DataCredential, entityType: EntityType, since: Date | null = null) =>
  Effect.gen(function* () {
    const data = yield* configured(makeSquareData)
    const mode = since === null ? "full" : "incremental"
    return yield* readPass(data, { entityType, credential: cred, mode, since })
  })

describe("SquareWrites against the sandbox fake: customers", () => {
  it.live("create, update and archive a customer; what the writer answers is what a read returns", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      assert.strictEqual(w.batchSize("customer"), 1)

      const fields = { given_name: "Amelia", family_name: "Earhart", email_address: "amelia@example.com" }
      const created = written(yield* push(w, "customer", cred, [item("patron-1", fields)]), "patron-1")
      assert.strictEqual(created.outcome, "created")
      assert.strictEqual(created.raw.reference_id, "patron-1")
      assert.strictEqual(created.raw.email_address, "amelia@example.com")
      assert.deepStrictEqual(
        (yield* readAll(cred, "customer")).map((r) => r.raw),
        [created.raw]
      )

      const changed = { ...fields, email_address: "amelia.e@example.com", phone_number: "+12125551234" }
      const updated = written(
        yield* push(w, "customer", cred, [item("patron-1", changed, linkOf(created))]),
        "patron-1"
      )
      assert.strictEqual(updated.outcome, "updated")
      assert.strictEqual(updated.externalId, created.externalId)
      assert.strictEqual(updated.raw.version, 2)
      assert.deepStrictEqual(fake.records(merchant, "customer"), [updated.raw])

      const archived = written(yield* push(w, "customer", cred, [deletion("patron-1", linkOf(updated))]), "patron-1")
      assert.strictEqual(archived.outcome, "archived")
      assert.deepStrictEqual(fake.records(merchant, "customer"), [])
      assert.strictEqual(fake.creations(merchant, "customer"), 1)
      assert.strictEqual(
        reasonOf(yield* push(w, "customer", cred, [deletion("patron-2", null)]), "patron-2"),
        "a deletion of a record never pushed to Square: nothing to delete"
      )
    })
  )

  it.live("a create replayed with the same key after its answer was lost creates no second customer", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const first = item("patron-1", { given_name: "Oscar", email_address: "oscar@example.com" })
      const answered = written(yield* push(w, "customer", cred, [first]), "patron-1")
      const replayed = written(yield* push(w, "customer", cred, [first]), "patron-1")
      assert.strictEqual(replayed.externalId, answered.externalId)
      assert.deepStrictEqual(replayed.raw, answered.raw)
      assert.strictEqual(fake.creations(merchant, "customer"), 1)
      assert.strictEqual(fake.records(merchant, "customer").length, 1)
      assert.strictEqual(requestsOf(merchant, "POST /v2/customers").length, 2)
    })
  )

  it.live(
    "a stale version is read again and the change applied to the current one; a vanished customer is created again",
    () =>
      Effect.gen(function* () {
        const merchant = newMerchant()
        const cred = credential(merchant)
        const w = yield* writer()
        const created = written(
          yield* push(w, "customer", cred, [item("patron-1", { given_name: "Priya", email_address: "p@example.com" })]),
          "patron-1"
        )
        // The seller edits the customer at Square: the link's version 1 is now stale.
        fake.upsertRecord(merchant, "customer", { id: created.externalId, note: "VIP" })
        const operations: Array<string> = []
        const updated = written(
          yield* push(
            w,
            "customer",
            cred,
            [item("patron-1", { given_name: "Priya", email_address: "priya@example.com" }, linkOf(created))],
            operations
          ),
          "patron-1"
        )
        assert.deepStrictEqual(operations, ["write_customer", "read_customer", "write_customer"])
        assert.strictEqual(updated.outcome, "updated")
        assert.strictEqual(updated.raw.version, 3)
        assert.strictEqual(updated.raw.email_address, "priya@example.com")
        assert.strictEqual(updated.raw.note, "VIP", "the seller's own change survives")

        fake.deleteRecord(merchant, "customer", created.externalId)
        const again = written(
          yield* push(w, "customer", cred, [item("patron-1", { given_name: "Priya" }, linkOf(updated))]),
          "patron-1"
        )
        assert.strictEqual(again.outcome, "created")
        assert.notStrictEqual(again.externalId, created.externalId)
        assert.deepStrictEqual(fake.records(merchant, "customer"), [again.raw])
      })
  )

  it.live("a refused customer fails alone with Square's reason; the others are written", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const outcomes = yield* push(w, "customer", cred, [
        item("patron-1", { given_name: "Jonas" }),
        item("patron-2", { given_name: "Mei", email_address: "not an address" }),
        item("patron-3", { nickname: "nobody" })
      ])
      assert.strictEqual(written(outcomes, "patron-1").outcome, "created")
      assert.match(reasonOf(outcomes, "patron-2"), /^INVALID_EMAIL_ADDRESS .*\(email_address\)$/)
      assert.match(reasonOf(outcomes, "patron-3"), /^MISSING_REQUIRED_PARAMETER /)
      assert.strictEqual(fake.records(merchant, "customer").length, 1)
    })
  )

  it.live("429 and 5xx fail the whole write with Square's kind; the retry creates once", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const patron = item("patron-1", { given_name: "Kwame" })
      fake.inject({ status: 429, retryAfterSeconds: 7, times: 1, accountId: merchant })
      const limited = yield* failureOf(push(w, "customer", cred, [patron]))
      assert.strictEqual(limited.kind, "rate_limited")
      assert.strictEqual(limited.retryAfterMillis, 7000)
      fake.inject({ status: 503, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(push(w, "customer", cred, [patron]))).kind, "unavailable")
      fake.inject({ status: 401, times: 1, accountId: merchant })
      assert.strictEqual((yield* failureOf(push(w, "customer", cred, [patron]))).kind, "unauthorized")
      assert.strictEqual(fake.creations(merchant, "customer"), 0)
      written(yield* push(w, "customer", cred, [patron]), "patron-1")
      assert.strictEqual(fake.creations(merchant, "customer"), 1)
    })
  )
})

describe("SquareWrites against the sandbox fake: catalog and inventory", () => {
  it.live(
    "items are created in one batch-upsert, updated with their versions and deleted; reads see the same objects",
    () =>
      Effect.gen(function* () {
        const merchant = newMerchant()
        const cred = credential(merchant)
        const w = yield* writer()
        assert.strictEqual(w.batchSize("product"), 1000)
        const items = [1, 2, 3].map((n) => item(`show-${n}`, product(`Show ${n}`, 2500 * n)))
        const operations: Array<string> = []
        const created = yield* push(w, "product", cred, items, operations)
        assert.deepStrictEqual(operations, ["batch_upsert_product"])
        const shows = [1, 2, 3].map((n) => written(created, `show-${n}`))
        assert.isTrue(shows.every((s) => s.outcome === "created" && !s.externalId.startsWith("#")))
        const variation = (raw: Record<string, unknown>) =>
          (raw.item_data as { variations: Array<Record<string, any>> }).variations[0]!
        assert.strictEqual(variation(shows[1]!.raw).item_variation_data.price_money.amount, 5000)
        assert.strictEqual(variation(shows[1]!.raw).item_variation_data.item_id, shows[1]!.externalId)
        // Written in one request, the three share a creation time: reads order them by id.
        const byId = (a: { id?: unknown }, b: { id?: unknown }) => (String(a.id) < String(b.id) ? -1 : 1)
        const read = yield* readAll(cred, "product")
        assert.deepStrictEqual(read.map((r) => r.raw).sort(byId), shows.map((s) => s.raw).sort(byId))

        const renamed = item("show-2", product("Show 2 (matinee)", 4000), linkOf(shows[1]!))
        const updated = written(yield* push(w, "product", cred, [renamed]), "show-2")
        assert.strictEqual(updated.outcome, "updated")
        assert.strictEqual(updated.externalId, shows[1]!.externalId)
        assert.strictEqual(variation(updated.raw).id, variation(shows[1]!.raw).id, "the same variation, updated")
        assert.isAbove(Number(updated.raw.version), Number(shows[1]!.raw.version))
        assert.strictEqual((updated.raw.item_data as { name: string }).name, "Show 2 (matinee)")

        const archived = yield* push(w, "product", cred, [
          deletion("show-3", linkOf(shows[2]!)),
          deletion("show-4", null)
        ])
        assert.strictEqual(written(archived, "show-3").outcome, "archived")
        assert.strictEqual(written(archived, "show-3").raw.is_deleted, true)
        assert.match(reasonOf(archived, "show-4"), /never pushed/)
        assert.deepStrictEqual(
          fake
            .records(merchant, "product")
            .map((r) => String(r.id))
            .sort(),
          [shows[0]!.externalId, shows[1]!.externalId].sort()
        )
        assert.strictEqual(fake.creations(merchant, "product"), 3)
      })
  )

  it.live("an incremental read after the writes returns the updated item and the deleted one's tombstone", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const created = yield* push(w, "product", cred, [
        item("show-1", product("Show 1", 1000)),
        item("show-2", product("Show 2", 1000))
      ])
      yield* Effect.sleep("5 millis")
      const since = new Date()
      yield* Effect.sleep("5 millis")
      const show1 = linkOf(written(created, "show-1"))
      const updated = written(
        yield* push(w, "product", cred, [item("show-1", product("Show 1 (late)", 1000), show1)]),
        "show-1"
      )
      yield* push(w, "product", cred, [deletion("show-2", linkOf(written(created, "show-2")))])
      const changed = yield* readAll(cred, "product", since)
      assert.deepStrictEqual(
        changed.map((r) => [r.externalId, r.deleted]).sort(),
        [
          [updated.externalId, false],
          [written(created, "show-2").externalId, true]
        ].sort()
      )
      assert.deepStrictEqual(changed.find((r) => r.externalId === updated.externalId)?.raw, updated.raw)
    })
  )

  it.live(
    "a batch replayed with the same items after its answer was lost answers the same id_mappings, creating nothing",
    () =>
      Effect.gen(function* () {
        const merchant = newMerchant()
        const cred = credential(merchant)
        const w = yield* writer()
        const items = [1, 2, 3, 4].map((n) => item(`show-${n}`, product(`Show ${n}`, 1000)))
        const first = yield* push(w, "product", cred, items)
        // The engine died before storing the links: the same items (in another order) are pushed again.
        const replayed = yield* push(w, "product", cred, [...items].reverse())
        for (const n of [1, 2, 3, 4]) {
          assert.strictEqual(written(replayed, `show-${n}`).externalId, written(first, `show-${n}`).externalId)
          assert.strictEqual(written(replayed, `show-${n}`).outcome, "created")
        }
        assert.strictEqual(fake.creations(merchant, "product"), 4)
        assert.strictEqual(fake.records(merchant, "product").length, 4)
      })
  )

  it.live("an update pushed again on a newer read of the object is a new request, not a reused key", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const show = written(yield* push(w, "product", cred, [item("show-1", product("Show 1", 1000))]), "show-1")
      const change = item("show-1", product("Show 1 (late)", 1200), linkOf(show))
      const lost = written(yield* push(w, "product", cred, [change]), "show-1")
      // Before the engine stored that answer, an inbound read stored the object as Square has it now.
      const again = yield* push(w, "product", cred, [{ ...change, link: linkOf(lost) }])
      assert.strictEqual(written(again, "show-1").outcome, "updated")
      assert.strictEqual(written(again, "show-1").externalId, show.externalId)
      assert.strictEqual(fake.creations(merchant, "product"), 1)
    })
  )

  it.live("a refused item fails alone with Square's reason; the other batches of the request are written", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const operations: Array<string> = []
      const outcomes = yield* push(
        w,
        "product",
        cred,
        [
          item("show-1", product("Show 1", 1000)),
          item("show-2", product("Show 2", 1000)),
          item("show-3", {
            ...product("Show 3", 1000),
            item_data: {
              name: "Show 3",
              variations: [{ item_variation_data: { price_money: { amount: 900, currency: "EUR" } } }]
            }
          }),
          item("show-4", { type: "ITEM", item_data: { description: "no name" } })
        ],
        operations
      )
      assert.deepStrictEqual(operations, ["batch_upsert_product"])
      assert.strictEqual(written(outcomes, "show-1").outcome, "created")
      assert.strictEqual(written(outcomes, "show-2").outcome, "created")
      assert.match(reasonOf(outcomes, "show-3"), /^INVALID_VALUE .*EUR is not the seller's currency/)
      assert.match(reasonOf(outcomes, "show-4"), /^MISSING_REQUIRED_PARAMETER .*\(item_data\.name\)$/)
      assert.strictEqual(fake.records(merchant, "product").length, 2)

      // Only refusals: the whole request is a 400, each item still fails with its own reason.
      const refused = yield* push(w, "product", cred, [item("show-5", { type: "ITEM", item_data: {} })])
      assert.match(reasonOf(refused, "show-5"), /^MISSING_REQUIRED_PARAMETER /)
    })
  )

  it.live("a version mismatch re-reads the item and upserts it again on Square's current versions", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const shows = yield* push(w, "product", cred, [
        item("show-1", product("Show 1", 1000)),
        item("show-2", product("Show 2", 1000))
      ])
      const show1 = written(shows, "show-1")
      const show2 = written(shows, "show-2")
      // The seller edits show 1 at Square: its ITEM's version moves on, the link's is stale.
      const edited = fake.upsertRecord(merchant, "product", {
        id: show1.externalId,
        item_data: { ...(show1.raw.item_data as object), abbreviation: "S1" }
      })
      assert.notStrictEqual(edited.version, show1.raw.version)
      const operations: Array<string> = []
      const outcomes = yield* push(
        w,
        "product",
        cred,
        [
          item("show-1", product("Show 1 (late)", 1500), linkOf(show1)),
          item("show-2", product("Show 2 (late)", 1500), linkOf(show2))
        ],
        operations
      )
      assert.deepStrictEqual(operations, ["batch_upsert_product", "read_product", "batch_upsert_product"])
      const again = written(outcomes, "show-1")
      assert.strictEqual(again.outcome, "updated")
      assert.strictEqual(again.externalId, show1.externalId)
      const data = again.raw.item_data as Record<string, unknown>
      assert.strictEqual(data.name, "Show 1 (late)")
      assert.strictEqual(data.abbreviation, "S1", "the seller's field survives the re-applied change")
      assert.strictEqual(written(outcomes, "show-2").outcome, "updated")
      assert.strictEqual(fake.creations(merchant, "product"), 2)

      // Deleted at Square meanwhile: the update finds nothing to update and creates the item again.
      fake.deleteRecord(merchant, "product", show1.externalId)
      const recreated = written(
        yield* push(w, "product", cred, [item("show-1", product("Show 1", 1500), linkOf(again))]),
        "show-1"
      )
      assert.strictEqual(recreated.outcome, "created")
      assert.notStrictEqual(recreated.externalId, show1.externalId)
      assert.strictEqual(fake.creations(merchant, "product"), 3)
    })
  )

  it.live("remaining capacity is pushed as the variation's count: a sold-out show is 0 at Square", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const operations: Array<string> = []
      const first = yield* push(
        w,
        "product",
        cred,
        [item("show-1", product("Show 1", 2000, 120)), item("show-2", product("Show 2", 2000, 40))],
        operations
      )
      assert.deepStrictEqual(operations, ["batch_upsert_product", "read_locations", "write_inventory"])
      const show1 = written(first, "show-1")
      const variation1 = (show1.raw.item_data as { variations: Array<Record<string, any>> }).variations[0]!
      assert.isTrue(variation1.item_variation_data.track_inventory)
      assert.isUndefined(variation1.inventory_count, "the count is not a catalog field")
      assert.strictEqual(fake.inventoryCount(merchant, String(variation1.id))?.quantity, "120")

      const soldOut = written(
        yield* push(w, "product", cred, [item("show-1", product("Show 1", 2000, 0), linkOf(show1))]),
        "show-1"
      )
      assert.strictEqual(soldOut.outcome, "updated")
      assert.strictEqual(fake.inventoryCount(merchant, String(variation1.id))?.quantity, "0")
      const variation2 = (written(first, "show-2").raw.item_data as { variations: Array<Record<string, any>> })
        .variations[0]!
      assert.strictEqual(fake.inventoryCount(merchant, String(variation2.id))?.quantity, "40")

      // No capacity in the mapping: no inventory call at all.
      const quiet: Array<string> = []
      yield* push(w, "product", cred, [item("show-3", product("Show 3", 2000))], quiet)
      assert.deepStrictEqual(quiet, ["batch_upsert_product"])
    })
  )

  it.live(
    "1,000 items (2,000 objects) go in one request; 429 and 5xx fail the whole write and its retry creates once",
    () =>
      Effect.gen(function* () {
        const merchant = newMerchant()
        const cred = credential(merchant)
        const w = yield* writer()
        const items = Array.from({ length: w.batchSize("product") }, (_, n) =>
          item(`show-${n}`, product(`Show ${n}`, 1000 + n))
        )
        fake.inject({ status: 429, retryAfterSeconds: 3, times: 1, accountId: merchant })
        const limited = yield* failureOf(push(w, "product", cred, items))
        assert.strictEqual(limited.kind, "rate_limited")
        assert.strictEqual(limited.retryAfterMillis, 3000)
        fake.inject({ status: 500, times: 1, accountId: merchant })
        assert.strictEqual((yield* failureOf(push(w, "product", cred, items))).kind, "unavailable")
        assert.strictEqual(fake.creations(merchant, "product"), 0)

        const operations: Array<string> = []
        const outcomes = yield* push(w, "product", cred, items, operations)
        assert.deepStrictEqual(operations, ["batch_upsert_product"])
        assert.strictEqual(outcomes.filter((o) => o.outcome === "created").length, 1000)
        assert.strictEqual(fake.creations(merchant, "product"), 1000)
      })
  )

  it.live("the fake refuses a key reused with another request, and batches over Square's object limits", () =>
    Effect.gen(function* () {
      const merchant = newMerchant()
      const cred = credential(merchant)
      const w = yield* writer()
      const show = item("show-1", product("Show 1", 1000))
      written(yield* push(w, "product", cred, [show]), "show-1")
      const reused = yield* push(w, "product", cred, [{ ...show, fields: product("Show 1 (renamed)", 1000) }])
      assert.match(reasonOf(reused, "show-1"), /^IDEMPOTENCY_KEY_REUSED /)

      // The seller gave the item 999 more variations: with them it is 1,001 objects, more than a batch may hold.
      const festival = written(
        yield* push(w, "product", cred, [item("festival", product("Festival", 100))]),
        "festival"
      )
      const data = festival.raw.item_data as { variations: Array<unknown> }
      const crowded = {
        ...festival.raw,
        item_data: {
          ...data,
          variations: [
            ...data.variations,
            ...Array.from({ length: 999 }, (_, n) => ({
              type: "ITEM_VARIATION",
              id: `#day-${n}`,
              item_variation_data: { name: `Day ${n}`, price_money: { amount: 100, currency: "USD" } }
            }))
          ]
        }
      }
      const tooMany = yield* push(w, "product", cred, [
        item("festival", product("Festival", 150), linkOf({ ...festival, raw: crowded }))
      ])
      assert.match(reasonOf(tooMany, "festival"), /^INVALID_VALUE Too many objects \(1001, max 1000\)/)
    })
  )
})
