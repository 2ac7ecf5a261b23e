import { Effect, Redacted } from "effect"
import Stripe from "stripe"
import { ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import type {
  ExternalLink,
  OutboundItem,
  ProviderWriter,
  WriteOutcome,
  WriteRequest
} from "../../../ports/sync/ProviderWrites.ts"
import { stripeClient } from "./StripeClient.ts"
import { StripeDataConfig, type StripeDataOptions } from "./StripeData.ts"
import { toProviderCallFailed } from "./StripeDataErrors.ts"

/**
 * The classifier's failure with Stripe's own reason in it (its error code, or its error type, and the parameter it
 * names), for the item's log. A `resource_missing` is `not_found` whatever its status: Stripe answers a price for a
 * product that is gone with a 400 naming `product`.
 */
const failureOf = (error: unknown): ProviderCallFailed => {
  const failed = toProviderCallFailed(error)
  if (!(error instanceof Stripe.errors.StripeError)) return failed
  const code = error.code ?? error.rawType
  const prefix = `Stripe answered ${error.statusCode ?? 0}:`
  if (code === undefined || !failed.message.startsWith(prefix)) return failed
  const param = error.param === undefined ? "" : ` (param ${error.param})`
  return new ProviderCallFailed({
    provider: "stripe",
    kind: code === "resource_missing" ? "not_found" : failed.kind,
    status: failed.status,
    retryAfterMillis: failed.retryAfterMillis,
    message: `Stripe answered ${error.statusCode ?? 0} ${code}${param}:${failed.message.slice(prefix.length)}`
  })
}

const failedWith =
  (kinds: ReadonlyArray<ProviderCallFailed["kind"]>) =>
  (error: unknown): error is ProviderCallFailed =>
    error instanceof ProviderCallFailed && kinds.includes(error.kind)

/** Stripe refused this one object (400, 402, 404, 409): the item fails, the others go on. 401/403/429/5xx stop all. */
const isRefusal = failedWith(["rejected", "not_found"])
/** The object is gone at Stripe (deleted there). */
const isMissing = failedWith(["not_found"])

/** The SDK's answer as a plain object (without its non-enumerable `lastResponse`): what a later read returns. */
const plain = (answer: object): Record<string, unknown> => ({ ...answer })

const done = (
  item: OutboundItem,
  outcome: "created" | "updated" | "archived",
  answer: { readonly id: string }
): WriteOutcome => ({ platformId: item.platformId, outcome, externalId: answer.id, raw: plain(answer) })

/** What Stripe answers for an object deleted there (a customer's retrieve, a product's delete). */
const deleted = (id: string, object: string) => ({ id, object, deleted: true })

const failed = (item: OutboundItem, reason: string): WriteOutcome => ({
  platformId: item.platformId,
  outcome: "failed",
  reason
})

/** The mapped fields with the platform id Stripe keeps for us (`metadata.platform_id`), whatever the mapping says. */
const withPlatformId = (item: OutboundItem, fields: Record<string, unknown>): Record<string, unknown> => {
  const metadata = fields.metadata
  return {
    ...fields,
    metadata: {
      ...(typeof metadata === "object" && metadata !== null ? metadata : {}),
      platform_id: item.platformId
    }
  }
}

/** A product's price: its default price as Stripe answers it expanded. */
interface Price {
  readonly id: string
  readonly unit_amount: number | null
  readonly currency: string
}

const isPrice = (value: unknown): value is Price =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Price).id === "string" &&
  typeof (value as Price).currency === "string" &&
  "unit_amount" in value

/** The price the mapping asks for (`default_price_data`), or null when the record has none. */
const wantedPrice = (data: unknown): { readonly unit_amount: unknown; readonly currency: unknown } | null => {
  if (typeof data !== "object" || data === null) return null
  const { unit_amount, currency } = data as Record<string, unknown>
  return unit_amount === undefined || unit_amount === null ? null : { unit_amount, currency }
}

/** Products are answered with their default price expanded, as the reader lists them: the raw a read would give. */
const expand = ["default_price"]

/**
 * ProviderWriter for Stripe on the official SDK. Customers: create, update, delete (Stripe customers have no active
 * flag: deleting is archiving). Products: create with `default_price_data`; update, and when the amount or currency
 * differs from the current default price (prices are immutable) a new price, set as the product's default, then the
 * old one archived (Stripe refuses to archive a product's default price); a deletion sets `active: false`.
 *
 * Every create and update carries an `Idempotency-Key` from the item's key: `-p` for the new price, `-d` for the
 * old price's archiving, `-c` for a create that replaces an object deleted at Stripe (its update answered 404). A
 * push replayed after a lost answer repeats the same requests with the same keys, so Stripe answers the first
 * results again and creates nothing twice.
 */
export const makeStripeWritesWith = (options: StripeDataOptions): ProviderWriter => {
  const write = <E>(request: WriteRequest<E>): Effect.Effect<ReadonlyArray<WriteOutcome>, ProviderCallFailed | E> =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<WriteOutcome>, ProviderCallFailed | E> => {
      const client = stripeClient(options, Redacted.value(request.credential.token))
      const sdk = <A>(operation: string, run: (client: Stripe) => Promise<A>) =>
        request.call(operation, Effect.tryPromise({ try: () => run(client), catch: failureOf }))

      const customer = (item: OutboundItem, fields: Record<string, unknown> | null, link: ExternalLink | null) => {
        const key = item.idempotencyKey
        if (item.deleted && link !== null) {
          const id = link.externalId
          return sdk("delete_customer", (c) => c.customers.del(id)).pipe(
            Effect.catchIf(isMissing, () => Effect.succeed(deleted(id, "customer"))),
            Effect.map((answer) => done(item, "archived", answer))
          )
        }
        if (fields === null) return Effect.succeed(failed(item, "nothing to write: no fields and no link"))
        const params = withPlatformId(item, fields) as Stripe.CustomerCreateParams
        const create = (suffix: string) =>
          sdk("write_customer", (c) => c.customers.create(params, { idempotencyKey: `${key}${suffix}` })).pipe(
            Effect.map((answer) => done(item, "created", answer))
          )
        if (link === null) return create("")
        return sdk("write_customer", (c) =>
          c.customers.update(link.externalId, params as Stripe.CustomerUpdateParams, { idempotencyKey: key })
        ).pipe(
          Effect.map((answer) => done(item, "updated", answer)),
          // Deleted at Stripe: the platform still has it, so it is created again (a key of its own: Stripe may keep
          // the 404 as the update key's answer).
          Effect.catchIf(isMissing, () => create("-c"))
        )
      }

      /** The product's current default price: from the link's raw (expanded), else read by its id. */
      const currentPrice = (value: unknown) =>
        isPrice(value)
          ? Effect.succeed<Price | null>(value)
          : typeof value === "string"
            ? sdk("read_price", (c) => c.prices.retrieve(value)).pipe(
                Effect.map((price): Price | null => price),
                Effect.catchIf(isMissing, () => Effect.succeed(null))
              )
            : Effect.succeed(null)

      const product = (item: OutboundItem, fields: Record<string, unknown> | null, link: ExternalLink | null) => {
        const key = item.idempotencyKey
        if (item.deleted && link !== null) {
          const id = link.externalId
          return sdk("write_product", (c) =>
            c.products.update(id, { active: false, expand }, { idempotencyKey: key })
          ).pipe(
            Effect.map((answer) => done(item, "archived", answer)),
            Effect.catchIf(isMissing, () => Effect.succeed(done(item, "archived", deleted(id, "product"))))
          )
        }
        if (fields === null) return Effect.succeed(failed(item, "nothing to write: no fields and no link"))
        const { default_price_data: priceData, ...rest } = withPlatformId(item, fields)
        const wanted = wantedPrice(priceData)
        const create = (suffix: string) =>
          sdk("write_product", (c) =>
            c.products.create(
              {
                ...rest,
                ...(wanted === null ? {} : { default_price_data: priceData }),
                expand
              } as unknown as Stripe.ProductCreateParams,
              { idempotencyKey: `${key}${suffix}` }
            )
          ).pipe(Effect.map((answer) => done(item, "created", answer)))
        if (link === null) return create("")
        const id = link.externalId
        return Effect.gen(function* () {
          const current = yield* currentPrice(link.raw.default_price)
          const changed =
            wanted !== null &&
            (current === null ||
              current.unit_amount !== wanted.unit_amount ||
              current.currency !== String(wanted.currency).toLowerCase())
          const price = changed
            ? yield* sdk("write_price", (c) =>
                c.prices.create({ product: id, ...wanted } as Stripe.PriceCreateParams, {
                  idempotencyKey: `${key}-p`
                })
              )
            : null
          const answer = yield* sdk("write_product", (c) =>
            c.products.update(
              id,
              {
                ...rest,
                ...(price === null ? {} : { default_price: price.id }),
                expand
              } as unknown as Stripe.ProductUpdateParams,
              { idempotencyKey: key }
            )
          )
          // Only now: Stripe refuses to archive the price that is still the product's default.
          if (price !== null && current !== null) {
            yield* sdk("write_price", (c) =>
              c.prices.update(current.id, { active: false }, { idempotencyKey: `${key}-d` })
            )
          }
          return done(item, "updated", answer)
        }).pipe(Effect.catchIf(isMissing, () => create("-c")))
      }

      const writers = { customer, product } as const
      const writer = request.entityType in writers ? writers[request.entityType as keyof typeof writers] : undefined
      if (writer === undefined) {
        return Effect.fail(
          new ProviderCallFailed({
            provider: "stripe",
            kind: "rejected",
            status: null,
            retryAfterMillis: null,
            message: `Stripe takes no ${request.entityType} writes`
          })
        )
      }
      return Effect.forEach(
        request.items,
        (item) =>
          // The engine sends a deletion only for a record it pushed; one without a link is a caller's error.
          (item.deleted && item.link === null
            ? Effect.succeed(failed(item, "a deletion of a record never pushed to Stripe"))
            : writer(item, item.fields, item.link)
          ).pipe(Effect.catchIf(isRefusal, (e) => Effect.succeed(failed(item, e.message)))),
        // Paced by `call`: the account's budget and its in-flight limit.
        { concurrency: "unbounded" }
      )
    }).pipe(
      Effect.withSpan("StripeWrites.write", {
        attributes: { provider: "stripe", "sync.entity": request.entityType, "sync.items": request.items.length }
      })
    )

  // Stripe has no batch write: one object per request, a write's requests all started at once (`call` paces them).
  // A write takes a whole page of records so that one SDK client serves them: building a client costs more CPU than
  // the request it makes.
  return { provider: "stripe", batchSize: () => 500, write }
}

/** Reads STRIPE_API_BASE_URL (optional) and PROVIDER_TIMEOUT (default 30 seconds), as the reader does. */
export const makeStripeWrites = Effect.gen(function* () {
  return makeStripeWritesWith(yield* StripeDataConfig)
})
