import { Schema } from "effect"
import type { FieldCatalog, FieldSpec } from "../mapping/FieldCatalog.ts"
import { Contact, ContactStatus } from "./Contact.ts"
import { Customer } from "./Customer.ts"
import { MarketingConsent } from "./FieldTypes.ts"
import { Invoice, InvoiceStatus } from "./Invoice.ts"
import { Order, OrderStatus } from "./Order.ts"
import { Payment, PaymentMethod, PaymentStatus } from "./Payment.ts"
import { Product } from "./Product.ts"

export const EntityType = Schema.Literals(["customer", "product", "order", "invoice", "payment", "contact"])
export type EntityType = typeof EntityType.Type

/** The platform's shape of each entity type; a mapping's canonical output decodes with it. */
export const canonicalSchemas = {
  customer: Customer,
  product: Product,
  order: Order,
  invoice: Invoice,
  payment: Payment,
  contact: Contact
} as const

const f = (path: string, type: FieldSpec["type"], extra: Omit<FieldSpec, "path" | "type"> = {}): FieldSpec => ({
  path,
  type,
  ...extra
})
const id = f("id", "string", { required: true, description: "the record's id at its source" })
const attributes = f("attributes.*", "string", { description: "venue-specific text fields by name" })
const lines = [
  f("lines", "array"),
  f("lines[].productId", "string"),
  f("lines[].quantity", "number"),
  f("lines[].unitPriceMinor", "integer"),
  f("lines[].description", "string")
]
const money = (amount: string) => [f(amount, "integer", { description: "minor units" }), f("currency", "currency")]
const enumOf = (path: string, literals: { readonly literals: ReadonlyArray<string> }, extra = {}) =>
  f(path, "enum", { values: literals.literals, ...extra })

/** The canonical side of every mapping, as a catalog (the paths the Schemas above accept). */
export const canonicalCatalogs: Record<EntityType, FieldCatalog> = {
  customer: [
    id,
    f("email", "email"),
    f("givenName", "string"),
    f("familyName", "string"),
    f("phone", "phone"),
    f("address", "object"),
    f("address.line1", "string"),
    f("address.line2", "string"),
    f("address.city", "string"),
    f("address.region", "string"),
    f("address.postalCode", "string"),
    f("address.country", "string", { maxLength: 2, description: "ISO 3166-1 alpha-2" }),
    enumOf("marketingConsent", MarketingConsent),
    attributes
  ],
  product: [
    id,
    f("name", "string", { required: true }),
    f("description", "string"),
    ...money("priceMinor"),
    f("startsAt", "instant"),
    f("active", "boolean"),
    f("capacityRemaining", "integer", { description: "tickets left to sell; 0: sold out" }),
    attributes
  ],
  order: [
    id,
    f("customerId", "string"),
    ...lines,
    ...money("totalMinor"),
    enumOf("status", OrderStatus),
    f("placedAt", "instant"),
    attributes
  ],
  invoice: [
    id,
    f("customerId", "string"),
    ...lines,
    ...money("totalMinor"),
    enumOf("status", InvoiceStatus),
    f("dueAt", "instant"),
    attributes
  ],
  payment: [
    id,
    f("orderId", "string"),
    ...money("amountMinor"),
    enumOf("status", PaymentStatus),
    enumOf("method", PaymentMethod),
    f("processedAt", "instant"),
    attributes
  ],
  contact: [
    id,
    f("email", "email", { required: true }),
    f("givenName", "string"),
    f("familyName", "string"),
    enumOf("status", ContactStatus, { required: true }),
    attributes
  ]
}
