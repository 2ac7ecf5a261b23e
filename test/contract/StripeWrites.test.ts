import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Redacted } from "effect"
import Stripe from "stripe"
import { makeStripeData } from "../../adapters/providers/stripe/StripeData.ts"
import { makeStripeWrites } from "../../adapters/providers/stripe/StripeWrites.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { stripeCatalog } from "../../domain/mapping/catalogs/StripeCatalog.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { DataCredential, PageRequest, ProviderCallFailed } from "../../ports/sync/ProviderData.ts"
import type { ExternalLink, OutboundItem, WriteOutcome } from "../../ports/sync/ProviderWrites.ts"
import { type FakeStripe, startFakeStripe } from "../sandbox/FakeStripe.ts"
import { linkOf, newKey, noRecords, readPass } from "../support/WriterContract.ts"

let fake: FakeStripe
beforeAll(async () => {
  fake = await startFakeStripe()
})
afterAll(() => fake.close())

let accounts = 0
/** Each test writes to its own account, so objects, keys, creations and request logs never mix. */
const newAccount = () => {
  const key = `sk_test_writekey${String(++accounts).padStart(6, "0")}`
  return { key, accountId: fake.addKey(key).accountId }
}
type Account = ReturnType<typeof newAccount>

const configured = <A>(make: Effect.Effect<A, unknown>) =>
  make.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ STRIPE_API_BASE_URL: fake.url }))),
    Effect.orDie
  )

const credential = (account: Account): DataCredential => ({
  token: Redacted.make(account.key),
  accountId: account.accountId,
  extra: {},
  audienceId: null
})

/** The default outbound mapping: what the engine hands the writer as `fields`. */
const mapped = (entityType: "customer" | "product", record: Record<string, unknown>) => {
  const result = compileRules(
    defaultTemplate("stripe", entityType, "outbound")!.rules,
    stripeCatalog[entityType]!
  )(record)
  assert.deepStrictEqual(result.errors, [])
  return result.output as Record<string, unknown>
}

const buyer = (id: string, email: string, familyName = "Lovelace") => ({
  id,
  email,
  givenName: "Ada",
  familyName,
  phone: "+13125550100",
  address: { line1: "1 Main St", city: "Springfield", region: "IL", postalCode: "62701", country: "US" }
})

const show = (id: string, priceMinor: number, name = "Hamlet", currency = "USD") => ({
  id,
  name,
  description: "A play",
  priceMinor,
  currency,
  startsAt: "2027-03-01T19:30:00.000Z",
  active: true
})

const item = (
  platformId: string,
  fields: Record<string, unknown>,
  link: ExternalLink | null = null,
  version = 1
): OutboundItem => ({ platformId, version, fields, deleted: false, link, idempotencyKey: newKey() })

const deletion = (platformId: string, link: ExternalLink | null): OutboundItem => ({
  platformId,
  version: 9,
  fields: null,
  deleted: true,
  link,
  idempotencyKey: newKey()
})

/** Pushes through a `call` that only records the operations, as the engine's would (under its budget). */
const push = (account: Account, entityType: EntityType, items: ReadonlyArray<OutboundItem>) =>
  Effect.gen(function* () {
    const writer = yield* configured(makeStripeWrites)
    const operations: Array<string> = []
    const links = new Map<string, string>()
    const outcomes = yield* writer.write({
      entityType,
      credential: credential(account),
      items,
      call: (operation, effect) => {
        operations.push(operation)
        return effect
      },
      linkOf: (entity, platformId) => Effect.succeed(links.get(`${entity}:${platformId}`) ?? null),
      recordsOf: noRecords
    })
    return { outcomes, operations }
  })

const succeeded = (outcome: WriteOutcome | undefined) => {
  if (outcome === undefined || outcome.outcome === "failed")
    return assert.fail(`not written: ${JSON.stringify(outcome)}`)
  return outcome
}

/** The write's failure (the test fails if the write succeeded or died). */
const failureOf = (account: Account, entityType: EntityType, items: ReadonlyArray<OutboundItem>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(push(account, entityType, items))
    if (Exit.isSuccess(exit)) return assert.fail("the write succeeded")
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    if (error === undefined) return assert.fail(`the write died: ${String(exit.cause)}`)
    return error.error as ProviderCallFailed
  })

/** A whole read pass of the reader, every record kept. */
const read = (account: Account, entityType: EntityType, options: Partial<Pick<PageRequest, "mode" | "since">> = {}) =>
  Effect.flatMap(configured(makeStripeData), (data) =>
    readPass(data, { entityType, credential: credential(account), mode: "full", since: null, ...options })
  )

const sdk = (account: Account) =>
  new Stripe(account.key, { host: "127.0.0.1", port: fake.port, protocol: "http", maxNetworkRetries: 0 })

const stripeError = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as Stripe.errors.StripeError
  }
  return assert.fail("expected Stripe to refuse")
}

describe("StripeWrites against the sandbox fake", () => {
  it.effect("customers: created with metadata.platform_id, updated in place, deleted as their archive", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const first = yield* push(account, "customer", [
        item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com"))),
        item("buyer-2", mapped("customer", buyer("buyer-2", "grace@example.com", "Hopper")))
      ])
      assert.deepStrictEqual(first.operations, ["write_customer", "write_customer"])
      const [ada, grace] = first.outcomes.map(succeeded)
      assert.strictEqual(ada!.outcome, "created")
      assert.match(ada!.externalId, /^cus_/)
      const stored = fake.records(account.accountId, "customer")
      assert.deepStrictEqual(
        stored.map((c) => [c.email, c.name, (c.metadata as Record<string, string>).platform_id]),
        [
          ["grace@example.com", "Ada Hopper", "buyer-2"],
          ["ada@example.com", "Ada Lovelace", "buyer-1"]
        ]
      )
      assert.deepStrictEqual(stored[1]!.address, {
        city: "Springfield",
        country: "US",
        line1: "1 Main St",
        line2: null,
        postal_code: "62701",
        state: "IL"
      })
      // The raw is what a read returns, so an inbound read of our own write is recognised as unchanged.
      const readBack = yield* read(account, "customer")
      assert.deepStrictEqual(
        readBack.map((r) => r.raw),
        [grace!.raw, ada!.raw]
      )

      const changed = yield* push(account, "customer", [
        item("buyer-1", mapped("customer", buyer("buyer-1", "ada@lovelace.example", "King")), linkOf(ada), 2)
      ])
      const updated = succeeded(changed.outcomes[0])
      assert.strictEqual(updated.outcome, "updated")
      assert.strictEqual(updated.externalId, ada!.externalId)
      assert.strictEqual(updated.raw.email, "ada@lovelace.example")
      assert.strictEqual(updated.raw.name, "Ada King")

      const removed = yield* push(account, "customer", [deletion("buyer-2", linkOf(grace))])
      assert.deepStrictEqual(removed.operations, ["delete_customer"])
      const archived = succeeded(removed.outcomes[0])
      assert.strictEqual(archived.outcome, "archived")
      assert.deepStrictEqual(archived.raw, { id: grace!.externalId, object: "customer", deleted: true })
      assert.deepStrictEqual(
        fake.records(account.accountId, "customer").map((c) => c.id),
        [ada!.externalId]
      )
      assert.strictEqual(fake.creations(account.accountId, "customer"), 2)
      const types = fake.events(account.accountId).map((e) => e.type)
      assert.deepStrictEqual(types, ["customer.deleted", "customer.updated", "customer.created", "customer.created"])

      // Deleting again (a replay of the deletion) finds it gone: still archived, nothing else happens.
      const again = yield* push(account, "customer", [deletion("buyer-2", linkOf(grace))])
      assert.strictEqual(succeeded(again.outcomes[0]).outcome, "archived")
    })
  )

  it.effect("a push replayed with the same keys after its answer was lost creates nothing twice", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const customer = item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com")))
      const product = item("show-1", mapped("product", show("show-1", 1500)))
      const first = [
        succeeded((yield* push(account, "customer", [customer])).outcomes[0]),
        succeeded((yield* push(account, "product", [product])).outcomes[0])
      ]
      // The process died before committing the links: the engine pushes the same items again, still unlinked.
      const again = [
        succeeded((yield* push(account, "customer", [customer])).outcomes[0]),
        succeeded((yield* push(account, "product", [product])).outcomes[0])
      ]
      assert.deepStrictEqual(
        again.map((o) => [o.outcome, o.externalId]),
        first.map((o) => [o.outcome, o.externalId])
      )
      assert.strictEqual(fake.creations(account.accountId, "customer"), 1)
      assert.strictEqual(fake.creations(account.accountId, "product"), 1)
      assert.strictEqual(fake.creations(account.accountId, "price"), 1)
      assert.lengthOf(fake.records(account.accountId, "customer"), 1)
      const posts = fake.requestLog().filter((r) => r.method === "POST" && r.path === "/v1/customers")
      assert.deepStrictEqual(
        posts.slice(-2).map((r) => r.idempotencyKey),
        [customer.idempotencyKey, customer.idempotencyKey]
      )

      // The price change replayed whole (new price, product, old price archived): still one new price.
      const change = item("show-1", mapped("product", show("show-1", 2000)), linkOf(first[1]), 2)
      const changed = succeeded((yield* push(account, "product", [change])).outcomes[0])
      const replayed = succeeded((yield* push(account, "product", [change])).outcomes[0])
      assert.strictEqual(replayed.externalId, changed.externalId)
      assert.strictEqual(fake.creations(account.accountId, "price"), 2)
      assert.deepStrictEqual(
        fake.prices(account.accountId).map((p) => [p.unit_amount, p.active]),
        [
          [1500, false],
          [2000, true]
        ]
      )
    })
  )

  it.effect("the same key with other parameters is Stripe's idempotency_error, that item's failure", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const first = item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com")))
      succeeded((yield* push(account, "customer", [first])).outcomes[0])
      const reused = { ...first, fields: mapped("customer", buyer("buyer-1", "other@example.com")) }
      const { outcomes } = yield* push(account, "customer", [reused])
      const outcome = outcomes[0]!
      assert.strictEqual(outcome.outcome, "failed")
      if (outcome.outcome === "failed") {
        assert.include(outcome.reason, "idempotency_error")
        assert.include(outcome.reason, "Keys for idempotent requests can only be used with the same parameters")
      }
      assert.strictEqual(fake.creations(account.accountId, "customer"), 1)
    })
  )

  it.effect("a refused item names Stripe's code and message; the other items of the write still succeed", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const { outcomes } = yield* push(account, "customer", [
        item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com"))),
        item("buyer-2", { ...mapped("customer", buyer("buyer-2", "b2@example.com")), email: "not-an-email" }),
        item("buyer-3", mapped("customer", buyer("buyer-3", "grace@example.com")))
      ])
      assert.deepStrictEqual(
        outcomes.map((o) => [o.platformId, o.outcome]),
        [
          ["buyer-1", "created"],
          ["buyer-2", "failed"],
          ["buyer-3", "created"]
        ]
      )
      const refused = outcomes[1]!
      if (refused.outcome === "failed") {
        assert.strictEqual(
          refused.reason,
          "Stripe answered 400 email_invalid (param email): Invalid email address: not-an-email"
        )
      }
      assert.strictEqual(fake.creations(account.accountId, "customer"), 2)

      // A product without its required name, and a currency Stripe does not know: refused the same way.
      const products = yield* push(account, "product", [
        item("show-1", { metadata: { platform_id: "show-1" } }),
        item("show-2", {
          ...mapped("product", show("show-2", 1500)),
          default_price_data: { unit_amount: 1500, currency: "zzz" }
        })
      ])
      const reasons = products.outcomes.map((o) => (o.outcome === "failed" ? o.reason : o.outcome))
      assert.deepStrictEqual(reasons, [
        "Stripe answered 400 parameter_missing (param name): Missing required param: name.",
        "Stripe answered 400 invalid_request_error (param default_price_data[currency]): Invalid currency: zzz."
      ])
      assert.strictEqual(fake.creations(account.accountId, "price"), 0)
    })
  )

  it.effect("429, 5xx and a refused key fail the whole write with the port's kinds; nothing is created", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const items = () => [item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com")))]
      fake.inject({ status: 429, retryAfterSeconds: 3, times: 1 })
      const limited = yield* failureOf(account, "customer", items())
      assert.strictEqual(limited.kind, "rate_limited")
      assert.strictEqual(limited.retryAfterMillis, 3_000)
      fake.inject({ status: 503, times: 1 })
      const unavailable = yield* failureOf(account, "customer", items())
      assert.strictEqual(unavailable.kind, "unavailable")
      assert.strictEqual(unavailable.status, 503)
      fake.clearInjections()

      assert.strictEqual(fake.creations(account.accountId, "customer"), 0)

      // The account's own limit (the bench sets 500 req/s): beyond it, Stripe's 429 rate_limit body.
      const limited2 = newAccount()
      fake.setRateLimit(limited2.accountId, { limit: 2, windowMs: 60_000 })
      const pushes = yield* Effect.all(
        Array.from({ length: 4 }, (_, i) =>
          Effect.exit(push(limited2, "customer", [item(`b-${i}`, mapped("customer", buyer(`b-${i}`, `b${i}@e.com`)))]))
        ),
        { concurrency: 4 }
      )
      assert.strictEqual(pushes.filter(Exit.isSuccess).length, 2)
      for (const exit of pushes.filter(Exit.isFailure)) {
        const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
        assert.strictEqual((error?.error as ProviderCallFailed | undefined)?.kind, "rate_limited")
      }
      const refused = fake.dataRequests(limited2.accountId).filter((r) => r.status === 429 && r.method === "POST")
      assert.lengthOf(refused, 2)
      const body = yield* Effect.promise(() => stripeError(sdk(limited2).customers.create({ email: "c@e.com" })))
      assert.strictEqual(body.statusCode, 429)
      assert.strictEqual(body.code, "rate_limit")
      fake.setRateLimit(limited2.accountId, null)
      assert.strictEqual(fake.creations(limited2.accountId, "customer"), 2)

      const other = newAccount()
      fake.expireKey(other.key)
      const unauthorized = yield* failureOf(other, "customer", items())
      assert.strictEqual(unauthorized.kind, "unauthorized")
      assert.notInclude(unauthorized.message, other.key)
      assert.strictEqual(fake.creations(other.accountId, "customer"), 0)
    })
  )

  it.effect("products: created with their price; a price change is a new default price and the old one archived", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const created = yield* push(account, "product", [item("show-1", mapped("product", show("show-1", 1500)))])
      assert.deepStrictEqual(created.operations, ["write_product"])
      const product = succeeded(created.outcomes[0])
      assert.strictEqual(product.outcome, "created")
      const firstPrice = product.raw.default_price as Record<string, unknown>
      assert.deepStrictEqual([firstPrice.unit_amount, firstPrice.currency], [1500, "usd"])
      assert.deepStrictEqual(fake.products(account.accountId), [product.raw])
      assert.strictEqual((product.raw.metadata as Record<string, string>).platform_id, "show-1")

      // A new name at the same price: the product only.
      const renamed = yield* push(account, "product", [
        item("show-1", mapped("product", show("show-1", 1500, "Hamlet (matinee)")), linkOf(product), 2)
      ])
      assert.deepStrictEqual(renamed.operations, ["write_product"])
      const afterRename = succeeded(renamed.outcomes[0])
      assert.strictEqual(afterRename.raw.name, "Hamlet (matinee)")
      assert.strictEqual((afterRename.raw.default_price as Record<string, unknown>).id, firstPrice.id)

      // A new amount: a new price, made the default, then the old one archived (in that order, as Stripe requires).
      const repriced = yield* push(account, "product", [
        item("show-1", mapped("product", show("show-1", 2500, "Hamlet (matinee)")), linkOf(afterRename), 3)
      ])
      assert.deepStrictEqual(repriced.operations, ["write_price", "write_product", "write_price"])
      const afterPrice = succeeded(repriced.outcomes[0])
      assert.strictEqual(afterPrice.outcome, "updated")
      assert.strictEqual(afterPrice.externalId, product.externalId)
      const secondPrice = afterPrice.raw.default_price as Record<string, unknown>
      assert.deepStrictEqual([secondPrice.unit_amount, secondPrice.active], [2500, true])
      assert.deepStrictEqual(
        fake.prices(account.accountId).map((p) => [p.id, p.unit_amount, p.active]),
        [
          [firstPrice.id, 1500, false],
          [secondPrice.id, 2500, true]
        ]
      )
      // A currency change is a new price too; here the link's raw holds the price unexpanded: it is read first.
      const unexpanded = { ...linkOf(afterPrice), raw: { ...afterPrice.raw, default_price: secondPrice.id } }
      const recurrency = yield* push(account, "product", [
        item("show-1", mapped("product", show("show-1", 2500, "Hamlet (matinee)", "EUR")), unexpanded, 4)
      ])
      assert.deepStrictEqual(recurrency.operations, ["read_price", "write_price", "write_product", "write_price"])
      const euro = succeeded(recurrency.outcomes[0]).raw.default_price as Record<string, unknown>
      assert.deepStrictEqual([euro.unit_amount, euro.currency], [2500, "eur"])
      assert.strictEqual(fake.creations(account.accountId, "price"), 3)
      assert.deepStrictEqual(
        fake.prices(account.accountId).map((p) => p.active),
        [false, false, true]
      )

      // The reader sees the product as the last answer had it: an echo of our own write is recognisable.
      const last = succeeded(recurrency.outcomes[0])
      const records = yield* read(account, "product")
      assert.deepStrictEqual(
        records.map((r) => r.raw),
        [last.raw]
      )

      const archived = yield* push(account, "product", [deletion("show-1", linkOf(last))])
      assert.deepStrictEqual(archived.operations, ["write_product"])
      const gone = succeeded(archived.outcomes[0])
      assert.strictEqual(gone.outcome, "archived")
      assert.isFalse(gone.raw.active)
      assert.isFalse(fake.products(account.accountId)[0]!.active)
      assert.strictEqual(fake.creations(account.accountId, "product"), 1)
    })
  )

  it.effect("an object deleted at Stripe is created again on its next update", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const customer = succeeded(
        (yield* push(account, "customer", [item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com")))]))
          .outcomes[0]
      )
      const product = succeeded(
        (yield* push(account, "product", [item("show-1", mapped("product", show("show-1", 1500)))])).outcomes[0]
      )
      fake.deleteRecord(account.accountId, "customer", customer.externalId)
      fake.deleteRecord(account.accountId, "product", product.externalId)

      const customerAgain = succeeded(
        (yield* push(account, "customer", [
          item("buyer-1", mapped("customer", buyer("buyer-1", "ada@example.com")), linkOf(customer), 2)
        ])).outcomes[0]
      )
      assert.strictEqual(customerAgain.outcome, "created")
      assert.notStrictEqual(customerAgain.externalId, customer.externalId)
      // The price change finds the product gone when it makes the new price: the product is made again, priced.
      const productAgain = yield* push(account, "product", [
        item("show-1", mapped("product", show("show-1", 1800)), linkOf(product), 2)
      ])
      assert.deepStrictEqual(productAgain.operations, ["write_price", "write_product"])
      const remade = succeeded(productAgain.outcomes[0])
      assert.strictEqual(remade.outcome, "created")
      assert.strictEqual((remade.raw.default_price as Record<string, unknown>).unit_amount, 1800)
      assert.strictEqual(fake.creations(account.accountId, "customer"), 2)
      assert.strictEqual(fake.creations(account.accountId, "product"), 2)
    })
  )

  it.effect("writes show in the reader's incremental pass, products re-read with their default price", () =>
    Effect.gen(function* () {
      const account = newAccount()
      fake.seed(account.accountId, "product", 1)
      // An older change, so the incremental pass has an event before `since` to walk up from.
      fake.upsertRecord(account.accountId, "product", { id: fake.records(account.accountId, "product")[0]!.id })
      fake.advanceClock(600)
      const since = new Date((Math.floor(Date.now() / 1000) + 600) * 1000)
      fake.advanceClock(60)
      const pushed = succeeded(
        (yield* push(account, "product", [item("show-1", mapped("product", show("show-1", 1500)))])).outcomes[0]
      )
      const repriced = succeeded(
        (yield* push(account, "product", [item("show-1", mapped("product", show("show-1", 900)), linkOf(pushed), 2)]))
          .outcomes[0]
      )
      const records = yield* read(account, "product", { mode: "incremental", since })
      const ours = records.filter((r) => r.externalId === pushed.externalId)
      assert.isAtLeast(ours.length, 1)
      assert.deepStrictEqual(ours.at(-1)!.raw, repriced.raw)
      const prices = fake.events(account.accountId).filter((e) => (e.type as string).startsWith("price."))
      assert.deepStrictEqual(
        prices.map((e) => e.type),
        ["price.updated", "price.created", "price.created"]
      )
    })
  )
})

describe("FakeStripe holds Stripe's price rules", () => {
  it.effect("a price is immutable but for its flags, and a product's default price cannot be archived", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const stripe = sdk(account)
      const product = yield* Effect.promise(() =>
        stripe.products.create({ name: "Swan Lake", default_price_data: { unit_amount: 3000, currency: "usd" } })
      )
      const price = product.default_price as string
      const amount = yield* Effect.promise(() =>
        stripeError(stripe.prices.update(price, { unit_amount: 10 } as Stripe.PriceUpdateParams))
      )
      assert.strictEqual(amount.code, "parameter_unknown")
      assert.strictEqual(amount.param, "unit_amount")
      const archive = yield* Effect.promise(() => stripeError(stripe.prices.update(price, { active: false })))
      assert.strictEqual(archive.statusCode, 400)
      assert.strictEqual(
        archive.message,
        "This price cannot be archived because it is the default price of its product."
      )
      const onUpdate = yield* Effect.promise(() =>
        stripeError(
          stripe.products.update(product.id, {
            default_price_data: { unit_amount: 1, currency: "usd" }
          } as Stripe.ProductUpdateParams)
        )
      )
      assert.strictEqual(onUpdate.param, "default_price_data")
      const other = yield* Effect.promise(() =>
        stripe.prices.create({ product: product.id, unit_amount: 3500, currency: "usd" })
      )
      yield* Effect.promise(() => stripe.products.update(product.id, { default_price: other.id }))
      const old = yield* Effect.promise(() => stripe.prices.update(price, { active: false }))
      assert.isFalse(old.active)
      const inactive = yield* Effect.promise(() =>
        stripeError(stripe.products.update(product.id, { default_price: price }))
      )
      assert.strictEqual(inactive.param, "default_price")
      const read = yield* Effect.promise(() => stripe.products.retrieve(product.id, { expand: ["default_price"] }))
      assert.strictEqual((read.default_price as Stripe.Price).unit_amount, 3500)
    })
  )

  it.effect("idempotency keys are the account's: another account's same key is a request of its own", () =>
    Effect.gen(function* () {
      const a = newAccount()
      const b = newAccount()
      const params = { email: "ada@example.com" }
      const first = yield* Effect.promise(() => sdk(a).customers.create(params, { idempotencyKey: "shared-key" }))
      const replay = yield* Effect.promise(() => sdk(a).customers.create(params, { idempotencyKey: "shared-key" }))
      assert.strictEqual(replay.id, first.id)
      assert.strictEqual(replay.lastResponse.headers["idempotent-replayed"], "true")
      const theirs = yield* Effect.promise(() => sdk(b).customers.create(params, { idempotencyKey: "shared-key" }))
      assert.notStrictEqual(theirs.id, first.id)
      assert.strictEqual(fake.creations(a.accountId, "customer"), 1)
      assert.strictEqual(fake.creations(b.accountId, "customer"), 1)
      // A refused request is not kept: the key still works once the parameters are right.
      const bad = yield* Effect.promise(() =>
        stripeError(sdk(a).customers.create({ email: "bad" }, { idempotencyKey: "fixable" }))
      )
      assert.strictEqual(bad.code, "email_invalid")
      const fixed = yield* Effect.promise(() =>
        sdk(a).customers.create({ email: "ok@example.com" }, { idempotencyKey: "fixable" })
      )
      assert.strictEqual(fixed.email, "ok@example.com")
    })
  )
})
