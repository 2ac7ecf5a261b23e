import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { storeIdOf } from "../../adapters/providers/mailchimp/MailchimpOrderWrites.ts"
import { makeMailchimpWrites } from "../../adapters/providers/mailchimp/MailchimpWrites.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { Order } from "../../domain/canonical/Order.ts"
import { sidesOf } from "../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { DataCredential } from "../../ports/sync/ProviderData.ts"
import type { ExternalLink, OutboundItem, WriteRequest } from "../../ports/sync/ProviderWrites.ts"
import { type FakeMailchimp, startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"
import { byPlatformId, failureOf, linkOf, newKey } from "../support/WriterContract.ts"

let fake: FakeMailchimp
beforeAll(async () => {
  fake = await startFakeMailchimp()
})
afterAll(() => fake.close())

let accounts = 0
/** Each test writes to its own account, so stores, counts and request logs never mix. */
const newAccount = () => `us19:${8000 + ++accounts}`
const listId = "5b3a7e9c21"
const storeId = storeIdOf(listId)

/** One writer for the file, as the service has one: what it knows of stores and products lasts across writes. */
const writer = Effect.runSync(
  makeMailchimpWrites.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))), Effect.orDie)
)

const credential = (account: string): DataCredential => ({
  token: Redacted.make(fake.issueToken(account)),
  accountId: account,
  extra: { dc: fake.dc, apiEndpoint: fake.url },
  audienceId: listId
})

/** The default outbound mapping, as the engine runs it: canonical order → the writer's `fields`. */
const outbound = compileRules(
  defaultTemplate("mailchimp", "order", "outbound")!.rules,
  sidesOf("mailchimp", "order", "outbound").targets
)

const order = (id: string, lines: NonNullable<Order["lines"]>, customerId = "buyer-1"): Order => ({
  id,
  customerId,
  currency: "EUR",
  totalMinor: lines.reduce((sum, l) => sum + l.quantity * (l.unitPriceMinor ?? 0), 0),
  status: "completed",
  placedAt: "2026-11-30T19:30:00.000Z",
  lines
})

const push = (o: Order, link: ExternalLink | null = null): OutboundItem => {
  const mapped = outbound(o)
  assert.deepStrictEqual(mapped.errors, [])
  return { platformId: o.id, version: 1, fields: mapped.output, deleted: false, link, idempotencyKey: newKey() }
}

/** The platform's side the writer looks up: buyers and products. */
const platform: Record<string, Record<string, Record<string, unknown>>> = {
  customer: { "buyer-1": { id: "buyer-1", email: "ada@lovelace.example" }, "buyer-2": { id: "buyer-2" } },
  contact: { "fan-1": { id: "fan-1", email: "fan@venue.example" } },
  product: { "show-1": { id: "show-1", name: "Hamlet — stalls" }, "show-2": { id: "show-2", name: "Hamlet — circle" } }
}

const run = (cred: DataCredential, items: ReadonlyArray<OutboundItem>, calls: Array<string> = []) =>
  Effect.suspend(() => {
    const request: WriteRequest<never> = {
      entityType: "order",
      credential: cred,
      items,
      call: (operation, effect) => {
        calls.push(operation)
        return effect
      },
      linkOf: () => Effect.succeed(null),
      recordsOf: (entityType: EntityType, ids: ReadonlyArray<string>) =>
        Effect.succeed(
          new Map(
            ids.flatMap((id) => (platform[entityType]?.[id] === undefined ? [] : [[id, platform[entityType][id]]]))
          )
        )
    }
    return writer.write(request)
  })

const stalls = { productId: "show-1", quantity: 2, unitPriceMinor: 4500 }
const circle = { productId: "show-2", quantity: 1, unitPriceMinor: 3000 }
const fee = { productId: null, quantity: 1, unitPriceMinor: 250, description: "Booking fee" }

/** What the fake holds of an order, as the mapping put it there. */
const heldAs = (account: string, id: string) => {
  const held = fake.orders(account, storeId).find((o) => o.id === id)
  return held === undefined
    ? undefined
    : {
        customer: [held.customer.id, held.customer.email_address, held.customer.opt_in_status],
        total: [held.order_total, held.currency_code, held.financial_status],
        lines: held.lines.map((l) => [l.id, l.product_id, l.product_variant_id, l.quantity, l.price, l.product_title])
      }
}

describe("Mailchimp e-commerce orders against the sandbox fake", () => {
  it.live(
    "create → update (a line gone) → delete: one store, its products once, the order as the platform has it",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        const cred = credential(account)
        const calls: Array<string> = []
        const first = order("o-1", [stalls, fee, circle])
        const [created] = yield* run(cred, [push(first)], calls)
        assert.strictEqual(created?.outcome, "created", JSON.stringify(created))
        assert.deepStrictEqual(calls.sort(), [
          "read_store",
          "write_order",
          "write_product",
          "write_product",
          "write_store"
        ])
        assert.deepStrictEqual(
          fake.stores(account).map((s) => [s.id, s.list_id, s.currency_code]),
          [[storeId, listId, "EUR"]]
        )
        assert.deepStrictEqual(heldAs(account, "o-1"), {
          customer: ["buyer-1", "ada@lovelace.example", false],
          total: [122.5, "EUR", "paid"],
          // The fee has no product: in the total, not a line; lines keep their place in the order as their id.
          lines: [
            ["1", "show-1", "show-1", 2, 45, "Hamlet — stalls"],
            ["3", "show-2", "show-2", 1, 30, "Hamlet — circle"]
          ]
        })

        const calls2: Array<string> = []
        const changed = { ...order("o-1", [{ ...stalls, quantity: 3 }]), status: "refunded" as const }
        const [updated] = yield* run(cred, [push(changed, linkOf(created))], calls2)
        assert.strictEqual(updated?.outcome, "updated")
        assert.deepStrictEqual(calls2, ["write_order", "write_order"], "a PATCH, then the stale line's DELETE")
        assert.deepStrictEqual(heldAs(account, "o-1"), {
          customer: ["buyer-1", "ada@lovelace.example", false],
          total: [135, "EUR", "refunded"],
          lines: [["1", "show-1", "show-1", 3, 45, "Hamlet — stalls"]]
        })

        const gone: OutboundItem = {
          platformId: "o-1",
          version: 3,
          fields: null,
          deleted: true,
          link: linkOf(updated),
          idempotencyKey: newKey()
        }
        const [archived] = yield* run(cred, [gone])
        assert.strictEqual(archived?.outcome, "archived")
        assert.isUndefined(heldAs(account, "o-1"))
        // Deleted again (a replay): already gone is what the deletion wanted.
        const [again] = yield* run(cred, [gone])
        assert.strictEqual(again?.outcome, "archived")
        assert.deepStrictEqual(fake.ecommerceCreations(account), { stores: 1, products: 2, orders: 1 })
      })
  )

  it.live("a push replayed after a crash before the commit finds its order: still one order, now as pushed", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      yield* run(cred, [push(order("o-1", [stalls]))])
      // The process died after Mailchimp's answer: no link, and the platform changed meanwhile.
      const [replayed] = yield* run(cred, [push(order("o-1", [{ ...stalls, quantity: 4 }]))])
      assert.strictEqual(replayed?.outcome, "created", JSON.stringify(replayed))
      assert.deepStrictEqual(fake.ecommerceCreations(account), { stores: 1, products: 1, orders: 1 })
      assert.deepStrictEqual(heldAs(account, "o-1")?.lines, [["1", "show-1", "show-1", 4, 45, "Hamlet — stalls"]])
    })
  )

  it.live(
    "an order without a buyer's address or without products fails alone, with the reason; a contact is a buyer",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        const cred = credential(account)
        const outcomes = byPlatformId(
          yield* run(cred, [
            push(order("o-1", [stalls], "buyer-2")),
            push(order("o-2", [fee])),
            push(order("o-3", [circle], "fan-1")),
            push(order("o-4", [stalls], "nobody"))
          ])
        )
        const reason = (id: string) => {
          const o = outcomes.get(id)
          return o?.outcome === "failed" ? o.reason : o?.outcome
        }
        assert.strictEqual(reason("o-1"), "the order's customer buyer-2 has no email address on the platform")
        assert.strictEqual(
          reason("o-2"),
          "the order has no line with a product: Mailchimp takes orders of products only"
        )
        assert.strictEqual(reason("o-3"), "created")
        assert.strictEqual(reason("o-4"), "the order's customer nobody has no email address on the platform")
        assert.deepStrictEqual(heldAs(account, "o-3")?.customer, ["fan-1", "fan@venue.example", false])
        assert.deepStrictEqual(
          fake.orders(account, storeId).map((o) => o.id),
          ["o-3"]
        )
      })
  )

  it.live(
    "a store deleted in Mailchimp: that write fails as not found, the next adds the store and its products again",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        const cred = credential(account)
        yield* run(cred, [push(order("o-1", [stalls]))])
        fake.deleteStore(account, storeId)
        const failed = yield* failureOf(run(cred, [push(order("o-2", [stalls]))]))
        assert.strictEqual(failed.kind, "not_found")
        const [created] = yield* run(cred, [push(order("o-2", [stalls]))])
        assert.strictEqual(created?.outcome, "created", JSON.stringify(created))
        assert.deepStrictEqual(fake.ecommerceCreations(account), { stores: 2, products: 2, orders: 2 })
      })
  )
})
