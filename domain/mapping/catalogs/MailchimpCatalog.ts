import type { FieldCatalog } from "../FieldCatalog.ts"
import { field, readOnly } from "./Field.ts"

/**
 * Mailchimp list members (Marketing API 3.0). Merge fields (`merge_fields.<TAG>`)
 * are per audience and discovered from `/lists/{id}/merge-fields`; timestamps
 * are `YYYY-MM-DD HH:MM:SS` without a zone (UTC) or ISO 8601.
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
  ]
}
