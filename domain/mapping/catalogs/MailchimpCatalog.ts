import type { FieldCatalog } from "../FieldCatalog.ts"
import { field, readOnly } from "./Field.ts"

/**
 * Mailchimp list members (Marketing API 3.0). Merge fields (`merge_fields.<TAG>`)
 * are per audience and discovered from `/lists/{id}/merge-fields`; timestamps
 * are `YYYY-MM-DD HH:MM:SS` without a zone (UTC) or ISO 8601.
 * E-commerce orders (`/ecommerce/stores/{store_id}/orders`), written only: the writer sets the order's `id` and
 * each line's `id` and fills `customer.email_address` from the platform's customer record (the order names the
 * buyer by id); a line's product and variant are the platform's product id, which the writer adds to the store.
 */
export const mailchimpCatalog: Record<string, FieldCatalog> = {
  contact: [
    readOnly("id", "string", { description: "MD5 of the lower-case email address" }),
    field("email_address", "email", { required: true, maxLength: 255 }),
    readOnly("unique_email_id", "string"),
    field("email_type", "enum", { values: ["html", "text"] }),
    field("status", "enum", {
      description: "outbound syncs write status_if_new, never re-subscribing a member",
      values: ["subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"]
    }),
    field("status_if_new", "enum", {
      values: ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
    }),
    field("merge_fields", "object"),
    field("interests", "object"),
    field("language", "string", { maxLength: 10 }),
    field("vip", "boolean"),
    field("tags", "array"),
    readOnly("member_rating", "integer"),
    readOnly("timestamp_signup", "string"),
    readOnly("timestamp_opt", "string"),
    readOnly("last_changed", "string"),
    readOnly("list_id", "string"),
    readOnly("location.country_code", "string"),
    readOnly("location.timezone", "string")
  ],
  order: [
    readOnly("id", "string", { description: "the platform's order id" }),
    field("customer.id", "string", { required: true, description: "the platform's customer id" }),
    readOnly("customer.email_address", "email", { description: "the buyer's address, from the platform's customer" }),
    field("currency_code", "currency", { required: true }),
    field("order_total", "decimal", { required: true }),
    field("discount_total", "decimal"),
    field("tax_total", "decimal"),
    field("processed_at_foreign", "instant"),
    field("financial_status", "enum", { values: ["paid", "pending", "refunded", "cancelled"] }),
    field("order_url", "string"),
    field("lines", "array", { required: true }),
    field("lines[].product_id", "string", { required: true }),
    field("lines[].product_variant_id", "string", { required: true }),
    field("lines[].quantity", "number", { required: true, description: "whole tickets; Mailchimp refuses a fraction" }),
    field("lines[].price", "decimal", { required: true })
  ]
}
