import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeQuickBooksData } from "../../adapters/providers/quickbooks/QuickBooksData.ts"
import { makeQuickBooksWrites } from "../../adapters/providers/quickbooks/QuickBooksWrites.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { providerCatalog } from "../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { DataCredential } from "../../ports/sync/ProviderData.ts"
import type { ExternalLink, OutboundItem } from "../../ports/sync/ProviderWrites.ts"
import { type FakeQuickBooks, startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import type { FakeQuickBooksEntityType, QuickBooksObject } from "../sandbox/FakeQuickBooksData.ts"
import { byPlatformId, linkOf, noRecords } from "../support/WriterContract.ts"

let fake: FakeQuickBooks
beforeAll(async () => {
  fake = await startFakeQuickBooks()
})
afterAll(() => fake.close())

type Pushed = "customer" | "product" | "order" | "invoice"

let realms = 0
/** Each test writes to its own company, so objects, request ids and request logs never mix. */
const newRealm = () => `93414600000${String(++realms).padStart(5, "0")}`

const config = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ QUICKBOOKS_BASE_URL: fake.url }))))
const writer = Effect.suspend(() => config(makeQuickBooksWrites)).pipe(Effect.orDie)

const credential = (realm: string, token = fake.accessTokenFor(realm)): DataCredential => ({
  token: Redacted.make(token),
  accountId: realm,
  extra: {},
  audienceId: null
})

/** The default outbound mapping: what the engine hands the writer as `fields`. */
const mapped = (entityType: Pushed, record: Record<string, unknown>) => {
  const rules = defaultTemplate("quickbooks", entityType, "outbound")?.rules ?? []
  const outcome = compileRules(rules, providerCatalog("quickbooks", entityType))(record)
  assert.deepStrictEqual(outcome.errors, [], `${entityType} ${String(record.id)}`)
  return outcome.output
}

let keys = 0
/** 32 hex characters, like the engine's key of (connection, entity, record id, record version). */
const newKey = () => `${Date.now().toString(16)}${String(++keys).padStart(8, "0")}`.padEnd(32, "0").slice(0, 32)

const item = (
  entityType: Pushed,
  record: Record<string, unknown>,
  options: { readonly link?: ExternalLink | null; readonly deleted?: boolean; readonly key?: string } = {}
): OutboundItem => ({
  platformId: String(record.id),
  version: 1,
  fields: options.deleted === true ? null : mapped(entityType, record),
  deleted: options.deleted === true,
  link: options.link ?? null,
  idempotencyKey: options.key ?? newKey()
})

/** A company and the engine's side of a write: links pushed so far and the operations called. */
const session = (realm = newRealm()) => {
  const links = new Map<string, string>()
  const operations: Array<string> = []
  /** Runs after each call's answer: QuickBooks changing between two calls of the writer. */
  const after = { call: (_operation: string) => {} }
  const creds = credential(realm)
  const push = (entityType: Pushed, items: ReadonlyArray<OutboundItem>, c: DataCredential = creds) =>
    Effect.gen(function* () {
      const w = yield* writer
      const outcomes = yield* w.write({
        entityType,
        credential: c,
        items,
        call: (operation, effect) => {
          operations.push(operation)
          return effect.pipe(Effect.tap(() => Effect.sync(() => after.call(operation))))
        },
        linkOf: (type: EntityType, platformId: string) => Effect.succeed(links.get(`${type}:${platformId}`) ?? null),
        recordsOf: noRecords
      })
      for (const o of outcomes) if (o.outcome !== "failed") links.set(`${entityType}:${o.platformId}`, o.externalId)
      return outcomes
    })
  return { realm, creds, links, operations, after, push }
}

const only = <A>(list: ReadonlyArray<A>): A => {
  assert.lengthOf(list, 1)
  return list[0] as A
}

const customer = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  email: `${id}@example.com`,
  givenName: "Ada",
  familyName: `Lovelace ${id}`,
  phone: "+15205550100",
  address: { line1: "12 Court St.", city: "Tucson", region: "AZ", postalCode: "85719", country: "US" },
  ...overrides
})
const product = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  name: `Hamlet ${id} — General Admission`,
  description: "Evening performance",
  priceMinor: 2550,
  currency: "USD",
  active: true,
  ...overrides
})
const sale = (id: string, customerId: string | null, lines: ReadonlyArray<readonly [string, number, number]>) => ({
  id,
  customerId,
  currency: "USD",
  placedAt: "2026-11-20T19:30:00.000Z",
  dueAt: "2026-12-20T00:00:00.000Z",
  lines: lines.map(([productId, quantity, unitPriceMinor]) => ({
    productId,
    quantity,
    unitPriceMinor,
    description: "Ticket"
  }))
})

const stored = (realm: string, entityType: FakeQuickBooksEntityType, id: string): QuickBooksObject => {
  const object = fake.record(realm, entityType, id)
  if (object === undefined) throw new Error(`no ${entityType} ${id}`)
  return object
}

/** What QuickBooks answers a direct request (the fake's wire, without the writer). */
const direct = async (realm: string, method: "GET" | "POST", path: string, body?: unknown) => {
  const response = await fetch(`${fake.url}/v3/company/${realm}/${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.accessTokenFor(realm)}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}
const faultCode = (body: Record<string, unknown>) =>
  (body.Fault as { Error: ReadonlyArray<{ code: string }> } | undefined)?.Error[0]?.code

describe("QuickBooksWrites against the sandbox fake", () => {
  it.live("customer: create → update → archive, each with its requestid; raw is what a read returns", () =>
    Effect.gen(function* () {
      const s = session()
      const record = customer("c1")
      const createKey = newKey()
      const created = only(yield* s.push("customer", [item("customer", record, { key: createKey })]))
      assert.strictEqual(created.outcome, "created")
      const link = linkOf(created)
      assert.deepStrictEqual(link.raw, stored(s.realm, "customer", link.externalId))
      assert.deepInclude(link.raw, {
        DisplayName: "Ada Lovelace c1",
        GivenName: "Ada",
        SyncToken: "0",
        Active: true,
        PrimaryEmailAddr: { Address: "c1@example.com" }
      })

      // An inbound read of our own write finds the same object.
      const reader = yield* config(makeQuickBooksData).pipe(Effect.orDie)
      const page = yield* reader.page({
        entityType: "customer",
        credential: s.creds,
        mode: "full",
        since: null,
        cursor: null
      })
      assert.deepStrictEqual(only(page.records).raw, link.raw)

      const updateKey = newKey()
      const updated = only(
        yield* s.push("customer", [item("customer", { ...record, familyName: "Byron" }, { link, key: updateKey })])
      )
      assert.deepInclude(updated, { outcome: "updated", externalId: link.externalId })
      const afterUpdate = linkOf(updated)
      assert.deepInclude(afterUpdate.raw, { DisplayName: "Ada Byron", FamilyName: "Byron", SyncToken: "1" })
      // Sparse: what QuickBooks keeps that the mapping does not send survives.
      assert.deepInclude(afterUpdate.raw, { PreferredDeliveryMethod: "Print", Balance: 0 })
      assert.deepStrictEqual(afterUpdate.raw, stored(s.realm, "customer", link.externalId))

      const deleteKey = newKey()
      const archived = only(
        yield* s.push("customer", [item("customer", record, { link: afterUpdate, deleted: true, key: deleteKey })])
      )
      assert.deepInclude(archived, { outcome: "archived", externalId: link.externalId })
      assert.deepInclude(linkOf(archived).raw, { Active: false, SyncToken: "2" })
      assert.lengthOf(fake.records(s.realm, "customer"), 0)
      assert.strictEqual(fake.creations(s.realm, "customer"), 1)

      const paths = fake
        .dataRequests(s.realm)
        .map((r) => r.path)
        .filter((p) => p.includes("/customer?"))
      assert.lengthOf(paths, 3)
      assert.include(paths[0], `requestid=${createKey}`)
      assert.include(paths[1], `requestid=${updateKey}`)
      assert.include(paths[2], `requestid=${deleteKey}`)
      assert.deepStrictEqual(s.operations, ["write_customer", "write_customer", "write_customer"])
    })
  )

  it.live("a push replayed with the same key after a lost answer creates nothing new, for every entity", () =>
    Effect.gen(function* () {
      const s = session()
      const pushTwice = (entityType: Pushed, record: Record<string, unknown>) =>
        Effect.gen(function* () {
          const first = item(entityType, record)
          const a = only(yield* s.push(entityType, [first]))
          // The answer was "lost": the engine pushes the same record version again, link still null.
          const b = only(yield* s.push(entityType, [first]))
          assert.strictEqual(a.outcome, "created")
          assert.deepStrictEqual(b, a)
          assert.strictEqual(fake.creations(s.realm, entityType), 1, entityType)
          assert.lengthOf(fake.records(s.realm, entityType), 1, entityType)
          return a
        })
      yield* pushTwice("customer", customer("c1"))
      yield* pushTwice("product", product("p1"))
      yield* pushTwice("order", sale("o1", "c1", [["p1", 2, 2550]]))
      const invoice = yield* pushTwice("invoice", sale("i1", "c1", [["p1", 1, 2550]]))

      // An update replayed: one SyncToken step, not two.
      const change = item("invoice", sale("i1", "c1", [["p1", 4, 2550]]), { link: linkOf(invoice) })
      const u1 = only(yield* s.push("invoice", [change]))
      const u2 = only(yield* s.push("invoice", [change]))
      assert.deepStrictEqual(u2, u1)
      assert.strictEqual(stored(s.realm, "invoice", linkOf(invoice).externalId).SyncToken, "1")
    })
  )

  it.live("items: Service type, the first Income account looked up once per write, UnitPrice in major units", () =>
    Effect.gen(function* () {
      const s = session()
      const outcomes = yield* s.push("product", [
        item("product", product("p1")),
        item("product", product("p2", { priceMinor: 1999 })),
        item("product", product("p3", { priceMinor: 100_000 }))
      ])
      assert.deepStrictEqual(
        outcomes.map((o) => o.outcome),
        ["created", "created", "created"]
      )
      assert.deepStrictEqual(
        outcomes.map((o) => linkOf(o).raw.UnitPrice),
        [25.5, 19.99, 1000]
      )
      const raw = linkOf(outcomes[0]).raw
      assert.deepInclude(raw, {
        Type: "Service",
        Sku: "p1",
        Name: "Hamlet p1 — General Admission",
        IncomeAccountRef: { value: "1", name: "Services" }
      })
      assert.deepStrictEqual(s.operations, ["query_account", "write_product", "write_product", "write_product"])
      const accountQuery = fake.dataRequests(s.realm).find((r) => r.path.includes("/query?"))
      assert.include(decodeURIComponent(accountQuery?.path ?? ""), "select * from Account where AccountType = 'Income'")

      // An update sends no account: the item keeps its own.
      const updated = only(
        yield* s.push("product", [item("product", product("p1", { priceMinor: 3000 }), { link: linkOf(outcomes[0]) })])
      )
      assert.deepInclude(linkOf(updated).raw, { UnitPrice: 30, IncomeAccountRef: { value: "1", name: "Services" } })
      assert.strictEqual(s.operations.filter((o) => o === "query_account").length, 1)

      // A company without an Income account: each new item fails with the reason, nothing is created.
      const bare = session()
      fake.setAccounts(bare.realm, [{ Id: "35", Name: "Checking", AccountType: "Bank" }])
      const refused = yield* bare.push("product", [item("product", product("p9")), item("product", product("p8"))])
      assert.deepStrictEqual(
        refused.map((o) => o.outcome),
        ["failed", "failed"]
      )
      assert.match(refused[0]?.outcome === "failed" ? refused[0].reason : "", /no Income account/)
      assert.strictEqual(fake.creations(bare.realm, "product"), 0)
      assert.deepStrictEqual(bare.operations, ["query_account"])

      // What the fake refuses on the wire: an item without its account, or with one that is not there.
      const noAccount = yield* Effect.promise(() => direct(bare.realm, "POST", "item", { Name: "X", Type: "Service" }))
      assert.strictEqual(noAccount.status, 400)
      assert.strictEqual(faultCode(noAccount.body), "2020")
      const badAccount = yield* Effect.promise(() =>
        direct(bare.realm, "POST", "item", { Name: "X", Type: "Service", IncomeAccountRef: { value: "1" } })
      )
      assert.strictEqual(faultCode(badAccount.body), "2500")
    })
  )

  it.live("orders and invoices: platform ids become QuickBooks ids; an unpushed reference fails only its item", () =>
    Effect.gen(function* () {
      const s = session()
      const c = linkOf(only(yield* s.push("customer", [item("customer", customer("c1"))])))
      const products = yield* s.push("product", [item("product", product("p1")), item("product", product("p2"))])
      const [p1, p2] = products.map(linkOf)

      const outcomes = byPlatformId(
        yield* s.push("order", [
          item(
            "order",
            sale("o1", "c1", [
              ["p1", 3, 1235],
              ["p2", 1, 2550]
            ])
          ),
          item("order", sale("o2", "c-unknown", [["p1", 1, 100]])),
          item("order", sale("o3", "c1", [["p-unknown", 1, 100]])),
          item("order", sale("o4", null, [["p2", 2, 999]])),
          item("order", sale("o5", "c1", [["p1", 3, 10]])),
          item("order", { ...sale("o6", "c1", [["p2", 2, 1500]]), currency: "JPY" })
        ])
      )
      assert.deepInclude(outcomes.get("o2"), {
        outcome: "failed",
        reason: "customer c-unknown has not been pushed yet"
      })
      assert.deepInclude(outcomes.get("o3"), { outcome: "failed", reason: "product p-unknown has not been pushed yet" })
      const receipt = linkOf(outcomes.get("o1")).raw
      assert.deepInclude(receipt, {
        CustomerRef: { value: c.externalId, name: "Ada Lovelace c1" },
        TotalAmt: 62.55,
        TxnDate: "2026-11-20",
        PrivateNote: "Platform order o1"
      })
      const lines = receipt.Line as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(
        lines.map((l) => [
          l.Amount,
          (l.SalesItemLineDetail as { ItemRef?: { value: string } } | undefined)?.ItemRef?.value ?? null
        ]),
        [
          [37.05, p1?.externalId],
          [25.5, p2?.externalId],
          [62.55, null]
        ]
      )
      // A receipt may have no customer at all.
      assert.strictEqual(linkOf(outcomes.get("o4")).raw.TotalAmt, 19.98)
      // Amount = Qty × UnitPrice at the currency's exponent: 3 × 0.10 is 0.3, not 0.30000000000000004; 1500 JPY
      // is 1500, not 15.
      const amounts = (id: string) =>
        (linkOf(outcomes.get(id)).raw.Line as ReadonlyArray<{ Amount: number }>).map((l) => l.Amount)
      assert.deepStrictEqual(amounts("o5"), [0.3, 0.3])
      assert.deepStrictEqual(amounts("o6"), [3000, 3000])
      assert.deepInclude(linkOf(outcomes.get("o6")).raw, { CurrencyRef: { value: "JPY", name: "JPY" } })
      assert.strictEqual(fake.creations(s.realm, "order"), 4)

      const invoice = only(yield* s.push("invoice", [item("invoice", sale("i1", "c1", [["p2", 2, 2550]]))]))
      assert.deepInclude(linkOf(invoice).raw, {
        CustomerRef: { value: c.externalId, name: "Ada Lovelace c1" },
        TotalAmt: 51,
        Balance: 51,
        DueDate: "2026-12-20"
      })

      // Deletion: the transaction is deleted, as CDC will report it.
      const receiptLink = linkOf(outcomes.get("o1"))
      const deleted = only(
        yield* s.push("order", [item("order", sale("o1", "c1", []), { link: receiptLink, deleted: true })])
      )
      assert.deepInclude(deleted, { outcome: "archived", externalId: receiptLink.externalId })
      assert.deepInclude(linkOf(deleted).raw, { status: "Deleted" })
      assert.deepInclude(stored(s.realm, "order", receiptLink.externalId), { status: "Deleted" })
      assert.notInclude(
        fake.records(s.realm, "order").map((o) => o.Id),
        receiptLink.externalId
      )
      const deleteCall = fake.dataRequests(s.realm).find((r) => r.path.includes("operation=delete"))
      assert.include(deleteCall?.path ?? "", "/salesreceipt?")

      // Deleting it again (its answer lost after QuickBooks deleted it) is still archived, and nothing else.
      const again = only(
        yield* s.push("order", [
          item("order", sale("o1", "c1", []), { link: receiptLink, deleted: true, key: newKey() })
        ])
      )
      assert.deepInclude(again, { outcome: "archived", externalId: receiptLink.externalId })
    })
  )

  it.live("a stale SyncToken (5010) is re-read, re-applied and retried once; QuickBooks' own edit survives", () =>
    Effect.gen(function* () {
      const s = session()
      const created = linkOf(only(yield* s.push("customer", [item("customer", customer("c1"))])))
      // Someone edits the customer in QuickBooks: SyncToken 0 is now stale.
      fake.upsertRecord(s.realm, "customer", { Id: created.externalId, Notes: "VIP, edited in QuickBooks" })

      // The fake's wire: a stale SyncToken is refused with the Stale Object Error.
      const stale = yield* Effect.promise(() =>
        direct(s.realm, "POST", "customer", { Id: created.externalId, SyncToken: "0", sparse: true, Notes: "x" })
      )
      assert.strictEqual(stale.status, 400)
      assert.strictEqual(faultCode(stale.body), "5010")

      s.operations.length = 0
      const updated = only(
        yield* s.push("customer", [item("customer", customer("c1", { givenName: "Augusta" }), { link: created })])
      )
      assert.deepInclude(updated, { outcome: "updated", externalId: created.externalId })
      assert.deepInclude(linkOf(updated).raw, {
        GivenName: "Augusta",
        Notes: "VIP, edited in QuickBooks",
        SyncToken: "2"
      })
      assert.deepStrictEqual(s.operations, ["write_customer", "read_customer", "write_customer"])

      // A transaction deleted on a stale SyncToken: re-read, deleted on the current one.
      yield* s.push("product", [item("product", product("p1"))])
      const invoice = linkOf(only(yield* s.push("invoice", [item("invoice", sale("i1", "c1", [["p1", 1, 2550]]))])))
      fake.upsertRecord(s.realm, "invoice", { Id: invoice.externalId, PrivateNote: "edited" })
      const deleted = only(
        yield* s.push("invoice", [item("invoice", sale("i1", "c1", []), { link: invoice, deleted: true })])
      )
      assert.deepInclude(deleted, { outcome: "archived" })
      assert.deepInclude(stored(s.realm, "invoice", invoice.externalId), { status: "Deleted" })

      // Edited again between the re-read and the retry: the second stale answer is the item's failure, not a loop.
      const c2 = linkOf(only(yield* s.push("customer", [item("customer", customer("c2"))])))
      fake.upsertRecord(s.realm, "customer", { Id: c2.externalId, Notes: "edit" })
      s.after.call = (operation) => {
        if (operation === "read_customer") fake.upsertRecord(s.realm, "customer", { Id: c2.externalId, Notes: "again" })
      }
      s.operations.length = 0
      const raced = only(
        yield* s.push("customer", [item("customer", customer("c2", { givenName: "B" }), { link: c2 })])
      )
      s.after.call = () => {}
      assert.strictEqual(raced.outcome, "failed")
      assert.match(raced.outcome === "failed" ? raced.reason : "", /Stale Object Error[\s\S]*code 5010/)
      assert.deepStrictEqual(s.operations, ["write_customer", "read_customer", "write_customer"])
      assert.deepInclude(stored(s.realm, "customer", c2.externalId), { Notes: "again", GivenName: "Ada" })
    })
  )

  it.live("duplicate DisplayName (6240): linked when the holder's email is ours or empty, else suffixed", () =>
    Effect.gen(function* () {
      const s = session()
      const holderSame = fake.upsertRecord(s.realm, "customer", {
        DisplayName: "Ada Lovelace same",
        PrimaryEmailAddr: { Address: "SAME@example.com" }
      })
      const holderEmpty = fake.upsertRecord(s.realm, "customer", {
        DisplayName: "Ada Lovelace empty",
        PrimaryEmailAddr: undefined
      })
      fake.upsertRecord(s.realm, "customer", {
        DisplayName: "Ada Lovelace other",
        PrimaryEmailAddr: { Address: "someone.else@example.com" }
      })

      // The fake's wire: a second active customer with the name is refused.
      const duplicate = yield* Effect.promise(() =>
        direct(s.realm, "POST", "customer", { DisplayName: "ada lovelace OTHER" })
      )
      assert.strictEqual(duplicate.status, 400)
      assert.strictEqual(faultCode(duplicate.body), "6240")

      const outcomes = byPlatformId(
        yield* s.push("customer", [
          item("customer", customer("same", { email: "same@example.com" })),
          item("customer", customer("empty")),
          item("customer", customer("other"))
        ])
      )
      assert.deepInclude(outcomes.get("same"), { outcome: "updated", externalId: holderSame.Id })
      assert.deepInclude(outcomes.get("empty"), { outcome: "updated", externalId: holderEmpty.Id })
      assert.deepInclude(linkOf(outcomes.get("empty")).raw, { PrimaryEmailAddr: { Address: "empty@example.com" } })
      const suffixed = linkOf(outcomes.get("other"))
      assert.deepInclude(suffixed.raw, { DisplayName: "Ada Lovelace other (2)" })
      assert.strictEqual(fake.creations(s.realm, "customer"), 1)

      // The next one with that name takes " (3)"; its replay creates nothing more.
      const thirdName = item("customer", customer("other", { id: "other-3", email: "third@example.com" }))
      const t1 = only(yield* s.push("customer", [thirdName]))
      assert.deepInclude(linkOf(t1).raw, { DisplayName: "Ada Lovelace other (3)" })
      const t2 = only(yield* s.push("customer", [thirdName]))
      assert.deepStrictEqual(t2, t1)
      assert.strictEqual(fake.creations(s.realm, "customer"), 2)

      // A name with a quote is found by the escaped query (`\'`).
      const holderQuote = fake.upsertRecord(s.realm, "customer", {
        DisplayName: "Ada O'Brien",
        PrimaryEmailAddr: undefined
      })
      const quoted = only(yield* s.push("customer", [item("customer", customer("q", { familyName: "O'Brien" }))]))
      assert.deepInclude(quoted, { outcome: "updated", externalId: holderQuote.Id })

      // A later update of the suffixed customer keeps its suffix instead of meeting the 6240 again: one call.
      s.operations.length = 0
      const kept = only(
        yield* s.push("customer", [item("customer", customer("other", { phone: "+15205550199" }), { link: suffixed })])
      )
      assert.deepInclude(kept, { outcome: "updated", externalId: suffixed.externalId })
      assert.deepInclude(linkOf(kept).raw, {
        DisplayName: "Ada Lovelace other (2)",
        PrimaryPhone: { FreeFormNumber: "+15205550199" }
      })
      assert.deepStrictEqual(s.operations, ["write_customer"])
      // An update renaming a customer to a name in use is suffixed like a create.
      const grace = linkOf(
        only(yield* s.push("customer", [item("customer", customer("g", { givenName: "Grace", familyName: "Hopper" }))]))
      )
      const renamed = only(
        yield* s.push("customer", [item("customer", customer("g", { familyName: "Lovelace other" }), { link: grace })])
      )
      assert.deepInclude(renamed, { outcome: "updated", externalId: grace.externalId })
      assert.deepInclude(linkOf(renamed).raw, { DisplayName: "Ada Lovelace other (4)" })
      assert.sameMembers(
        fake.records(s.realm, "customer").map((c) => String(c.DisplayName)),
        [
          "Ada O'Brien",
          "Ada Lovelace same",
          "Ada Lovelace empty",
          "Ada Lovelace other",
          "Ada Lovelace other (2)",
          "Ada Lovelace other (3)",
          "Ada Lovelace other (4)"
        ]
      )
    })
  )

  it.live("a per-item refusal names QuickBooks' reason and code; the other items are still written", () =>
    Effect.gen(function* () {
      const s = session()
      fake.upsertRecord(s.realm, "product", { Name: "Sold out show" })
      const outcomes = byPlatformId(
        yield* s.push("product", [
          item("product", product("p1")),
          item("product", product("p2", { name: "Sold out show" })),
          item("product", product("p3"))
        ])
      )
      assert.strictEqual(outcomes.get("p1")?.outcome, "created")
      assert.strictEqual(outcomes.get("p3")?.outcome, "created")
      const refused = outcomes.get("p2")
      assert.strictEqual(refused?.outcome, "failed")
      assert.match(refused?.outcome === "failed" ? refused.reason : "", /Duplicate Name Exists Error[\s\S]*code 6240/)
      assert.strictEqual(fake.creations(s.realm, "product"), 2)

      // A deletion the engine should never send (no link) fails without a call.
      const calls = s.operations.length
      const orphan = only(yield* s.push("customer", [item("customer", customer("x"), { deleted: true })]))
      assert.strictEqual(orphan.outcome, "failed")
      assert.strictEqual(s.operations.length, calls)
    })
  )

  it.live("429, 5xx and 401 fail the whole write with their kind; the rerun creates each object once", () =>
    Effect.gen(function* () {
      const s = session()
      const items = ["c1", "c2", "c3"].map((id) => item("customer", customer(id)))
      const whole = (c: DataCredential = s.creds) =>
        s.push("customer", items, c).pipe(
          Effect.flip,
          Effect.map((e) => (e._tag === "ProviderCallFailed" ? e : assert.fail(`not a call failure: ${e._tag}`)))
        )

      fake.inject({ status: 429, retryAfterSeconds: 7, times: 1 })
      assert.deepInclude(yield* whole(), { kind: "rate_limited", status: 429, retryAfterMillis: 7000 })
      fake.inject({ status: 503, times: 1 })
      assert.deepInclude(yield* whole(), { kind: "unavailable", status: 503 })
      const token = fake.accessTokenFor(s.realm)
      fake.expireAccessToken(token)
      const unauthorized = yield* whole(credential(s.realm, token))
      assert.deepInclude(unauthorized, { kind: "unauthorized", status: 401 })
      assert.notInclude(unauthorized.message, token)
      assert.strictEqual(fake.creations(s.realm, "customer"), 0)

      // The budget runs out after two creates (the refused requests above count in its window): the write fails
      // whole, two objects exist.
      fake.setRateLimit(s.realm, { limit: fake.dataRequests(s.realm).length + 2, windowMs: 60_000 })
      assert.deepInclude(yield* whole(), { kind: "rate_limited", status: 429 })
      assert.strictEqual(fake.creations(s.realm, "customer"), 2)
      fake.setRateLimit(s.realm, null)
      // The engine runs it again with the same keys: the first two are answered as before, one more is created.
      const rerun = yield* s.push("customer", items)
      assert.deepStrictEqual(
        rerun.map((o) => o.outcome),
        ["created", "created", "created"]
      )
      assert.strictEqual(fake.creations(s.realm, "customer"), 3)
      assert.lengthOf(fake.records(s.realm, "customer"), 3)
    })
  )

  it.live("an update of an object deleted at QuickBooks creates it again", () =>
    Effect.gen(function* () {
      const s = session()
      yield* s.push("customer", [item("customer", customer("c1"))])
      yield* s.push("product", [item("product", product("p1"))])
      const receipt = linkOf(only(yield* s.push("order", [item("order", sale("o1", "c1", [["p1", 1, 2550]]))])))
      fake.deleteRecord(s.realm, "order", receipt.externalId)
      const pushed = only(
        yield* s.push("order", [item("order", sale("o1", "c1", [["p1", 2, 2550]]), { link: receipt })])
      )
      assert.strictEqual(pushed.outcome, "created")
      assert.notStrictEqual(linkOf(pushed).externalId, receipt.externalId)
      assert.deepInclude(linkOf(pushed).raw, { TotalAmt: 51 })
      assert.strictEqual(fake.creations(s.realm, "order"), 2)
      assert.lengthOf(fake.records(s.realm, "order"), 1)
    })
  )
})
