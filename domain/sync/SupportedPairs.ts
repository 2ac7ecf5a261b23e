import type { EntityType } from "../canonical/EntityType.ts"
import type { Provider } from "../Provider.ts"

export type PairDirection = "inbound" | "outbound"

/**
 * What goes where, and so what each provider maps. Inbound: every object the provider keeps for the entity (Stripe
 * order = PaymentIntent, payment = Charge; Square product = catalog ITEM; QuickBooks product = Item, order =
 * SalesReceipt; Mailchimp contact = list member). Outbound: what a ticketing platform owns
 * and the provider should hold — events and ticket types as Stripe products and prices, Square catalog items (with
 * their inventory) and QuickBooks items; ticket buyers as Stripe, Square and QuickBooks customers and Mailchimp
 * members; orders and invoices as QuickBooks sales receipts and invoices, orders as Mailchimp e-commerce orders (in a
 * store the writer keeps per connection and audience). Payments are taken at the provider, never pushed; Stripe's and
 * Square's orders are made by their own checkouts.
 */
const pairs: Record<Provider, Record<PairDirection, ReadonlyArray<EntityType>>> = {
  stripe: { inbound: ["customer", "product", "order", "invoice", "payment"], outbound: ["customer", "product"] },
  square: { inbound: ["customer", "product", "order", "payment"], outbound: ["customer", "product"] },
  quickbooks: {
    inbound: ["customer", "product", "order", "invoice", "payment"],
    outbound: ["customer", "product", "order", "invoice"]
  },
  mailchimp: { inbound: ["contact"], outbound: ["contact", "order"] }
}

export const supportsPair = (provider: Provider, entityType: EntityType, direction: PairDirection): boolean =>
  pairs[provider][direction].includes(entityType)

/** Both directions of `bidirectional` must be supported. */
export const supportsDirection = (
  provider: Provider,
  entityType: EntityType,
  direction: PairDirection | "bidirectional"
): boolean =>
  direction === "bidirectional"
    ? supportsPair(provider, entityType, "inbound") && supportsPair(provider, entityType, "outbound")
    : supportsPair(provider, entityType, direction)

export const entitiesFor = (provider: Provider, direction: PairDirection): ReadonlyArray<EntityType> =>
  pairs[provider][direction]

/** Providers whose connections take the entity outbound: what a platform record change schedules. */
export const outboundProvidersOf = (entityType: EntityType): ReadonlyArray<Provider> =>
  (Object.keys(pairs) as Array<Provider>).filter((p) => pairs[p].outbound.includes(entityType))

/** Every entity the provider maps in either direction: what has mappings and a line in the sync status. */
export const mappedEntities = (provider: Provider): ReadonlyArray<EntityType> => [
  ...new Set([...pairs[provider].inbound, ...pairs[provider].outbound])
]
