import type { FieldCatalog } from "../FieldCatalog.ts"
import { field, readOnly } from "./Field.ts"

/**
 * Square API objects (Square-Version 2026-09-16). Money is `{ amount, currency }`
 * in minor units with upper-case currencies; timestamps are RFC 3339. Customer
 * custom attributes (discovered per seller) appear as `custom_attributes.<key>.value`.
 */
const money = (prefix: string, required = false) => [
  field(`${prefix}.amount`, "integer", { required }),
  field(`${prefix}.currency`, "currency", { required })
]
const meta = [readOnly("id", "string"), readOnly("created_at", "instant"), readOnly("updated_at", "instant")]

export const squareCatalog: Record<string, FieldCatalog> = {
  customer: [
    ...meta,
    readOnly("version", "integer"),
    field("given_name", "string", { maxLength: 300 }),
    field("family_name", "string", { maxLength: 300 }),
    field("company_name", "string", { maxLength: 500 }),
    field("nickname", "string", { maxLength: 100 }),
    field("email_address", "email", { maxLength: 254 }),
    field("phone_number", "string", { maxLength: 32 }),
    field("address", "object"),
    field("address.address_line_1", "string", { maxLength: 500 }),
    field("address.address_line_2", "string", { maxLength: 500 }),
    field("address.locality", "string", { maxLength: 60 }),
    field("address.administrative_district_level_1", "string", { maxLength: 200 }),
    field("address.postal_code", "string", { maxLength: 12 }),
    field("address.country", "string", { maxLength: 2 }),
    field("reference_id", "string", { maxLength: 100 }),
    field("note", "string", { maxLength: 500 }),
    field("birthday", "date"),
    readOnly("preferences.email_unsubscribed", "boolean"),
    readOnly("creation_source", "string")
  ],
  product: [
    ...meta,
    field("type", "enum", { values: ["ITEM"], required: true }),
    readOnly("version", "integer"),
    readOnly("is_deleted", "boolean"),
    field("item_data.name", "string", { required: true, maxLength: 512 }),
    field("item_data.description", "string", { maxLength: 4096 }),
    field("item_data.product_type", "enum", { values: ["REGULAR", "APPOINTMENTS_SERVICE", "EVENT"] }),
    field("item_data.is_archived", "boolean"),
    field("item_data.variations", "array"),
    field("item_data.variations[].id", "string"),
    field("item_data.variations[].item_variation_data.name", "string", { maxLength: 255 }),
    ...money("item_data.variations[].item_variation_data.price_money"),
    readOnly("item_data.variations[].item_variation_data.pricing_type", "enum", {
      values: ["FIXED_PRICING", "VARIABLE_PRICING"]
    }),
    field("item_data.variations[].inventory_count", "integer", {
      description: "not a catalog field: the variation's IN_STOCK count, pushed through the Inventory API"
    })
  ],
  order: [
    ...meta,
    field("location_id", "string", { required: true }),
    field("reference_id", "string", { maxLength: 40 }),
    field("customer_id", "string", { maxLength: 191 }),
    readOnly("state", "enum", { values: ["OPEN", "COMPLETED", "CANCELED", "DRAFT"] }),
    readOnly("closed_at", "instant"),
    field("line_items", "array"),
    field("line_items[].catalog_object_id", "string"),
    field("line_items[].name", "string", { maxLength: 512 }),
    field("line_items[].quantity", "string", { description: "decimal quantity as text" }),
    ...money("line_items[].base_price_money"),
    ...money("total_money"),
    readOnly("version", "integer")
  ],
  payment: [
    ...meta,
    ...money("amount_money", true),
    ...money("total_money"),
    readOnly("status", "enum", { values: ["APPROVED", "PENDING", "COMPLETED", "CANCELED", "FAILED"] }),
    readOnly("source_type", "enum", {
      values: ["CARD", "BANK_ACCOUNT", "WALLET", "BUY_NOW_PAY_LATER", "SQUARE_ACCOUNT", "CASH", "EXTERNAL"]
    }),
    field("order_id", "string", { maxLength: 192 }),
    field("customer_id", "string", { maxLength: 191 }),
    field("location_id", "string"),
    field("reference_id", "string", { maxLength: 40 }),
    field("note", "string", { maxLength: 500 }),
    readOnly("receipt_number", "string"),
    readOnly("receipt_url", "string"),
    readOnly("version_token", "string")
  ]
}
