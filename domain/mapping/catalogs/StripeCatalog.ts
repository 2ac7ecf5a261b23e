import type { FieldCatalog } from "../FieldCatalog.ts"
import { field, readOnly } from "./Field.ts"

/**
 * Stripe API objects (2026-10-28 API version), as the list endpoints return them.
 * `metadata`: at most 50 keys, keys ≤ 40 characters, values ≤ 500 (Stripe's limits).
 * Amounts are integers in minor units; currencies lower-case ISO codes.
 */
const metadata = [
  field("metadata", "object", { description: "at most 50 keys" }),
  field("metadata.*", "string", { maxLength: 500, description: "key ≤ 40 characters, value ≤ 500" })
]
const common = [readOnly("id", "string"), readOnly("object", "string"), readOnly("livemode", "boolean"), ...metadata]
const created = readOnly("created", "unix")
const currency = field("currency", "currency", { description: "lower-case ISO 4217" })
const address = (prefix: string) => [
  field(`${prefix}.line1`, "string"),
  field(`${prefix}.line2`, "string"),
  field(`${prefix}.city`, "string"),
  field(`${prefix}.state`, "string"),
  field(`${prefix}.postal_code`, "string"),
  field(`${prefix}.country`, "string", { maxLength: 2 })
]

export const stripeCatalog: Record<string, FieldCatalog> = {
  customer: [
    ...common,
    created,
    field("email", "email", { maxLength: 512 }),
    field("name", "string", { maxLength: 256 }),
    field("phone", "string", { maxLength: 20 }),
    field("description", "string", { maxLength: 350 }),
    field("address", "object"),
    ...address("address"),
    field("preferred_locales", "array"),
    field("tax_exempt", "enum", { values: ["none", "exempt", "reverse"] }),
    readOnly("balance", "integer"),
    readOnly("delinquent", "boolean")
  ],
  product: [
    ...common,
    created,
    readOnly("updated", "unix"),
    field("name", "string", { required: true, maxLength: 250 }),
    field("description", "string", { maxLength: 40000 }),
    field("active", "boolean"),
    field("default_price", "string", { description: "price id; expanded with expand[]=data.default_price" }),
    readOnly("default_price.unit_amount", "integer"),
    readOnly("default_price.currency", "currency"),
    // Write-only: the price a push sets. Prices are immutable, so a change of either makes a new default price.
    field("default_price_data.unit_amount", "integer", { description: "minor units; write-only" }),
    field("default_price_data.currency", "currency", { description: "lower-case ISO 4217; write-only" }),
    field("statement_descriptor", "string", { maxLength: 22 }),
    field("unit_label", "string", { maxLength: 12 }),
    field("url", "string"),
    field("images", "array")
  ],
  order: [
    ...common,
    created,
    field("amount", "integer", { required: true, description: "minor units" }),
    readOnly("amount_received", "integer"),
    { ...currency, required: true },
    field("customer", "string"),
    field("description", "string", { maxLength: 1000 }),
    field("receipt_email", "email"),
    readOnly("status", "enum", {
      values: [
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
        "processing",
        "requires_capture",
        "canceled",
        "succeeded"
      ]
    }),
    readOnly("canceled_at", "unix"),
    readOnly("latest_charge", "string"),
    readOnly("invoice", "string")
  ],
  invoice: [
    ...common,
    created,
    field("customer", "string", { required: true }),
    readOnly("currency", "currency"),
    readOnly("total", "integer"),
    readOnly("amount_due", "integer"),
    readOnly("amount_paid", "integer"),
    readOnly("status", "enum", { values: ["draft", "open", "paid", "uncollectible", "void"] }),
    field("due_date", "unix"),
    field("description", "string", { maxLength: 1500 }),
    field("collection_method", "enum", { values: ["charge_automatically", "send_invoice"] }),
    readOnly("customer_email", "email"),
    readOnly("customer_name", "string"),
    readOnly("number", "string"),
    readOnly("lines.data", "array"),
    readOnly("lines.data[].price.product", "string"),
    readOnly("lines.data[].quantity", "integer"),
    readOnly("lines.data[].price.unit_amount", "integer"),
    readOnly("lines.data[].description", "string")
  ],
  payment: [
    ...common,
    created,
    field("amount", "integer", { required: true }),
    readOnly("amount_captured", "integer"),
    readOnly("amount_refunded", "integer"),
    { ...currency, required: true },
    field("customer", "string"),
    field("description", "string"),
    readOnly("payment_intent", "string"),
    readOnly("paid", "boolean"),
    readOnly("refunded", "boolean"),
    readOnly("status", "enum", { values: ["succeeded", "pending", "failed"] }),
    readOnly("payment_method_details.type", "string"),
    readOnly("billing_details.email", "email"),
    readOnly("billing_details.name", "string"),
    readOnly("billing_details.phone", "string"),
    field("receipt_email", "email")
  ]
}
