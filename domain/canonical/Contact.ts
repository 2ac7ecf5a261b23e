import { Schema } from "effect"
import { Attributes, Email } from "./FieldTypes.ts"

export const ContactStatus = Schema.Literals(["subscribed", "unsubscribed", "cleaned", "pending", "transactional"])

/** A marketing-list member. */
export const Contact = Schema.Struct({
  id: Schema.String,
  email: Email,
  givenName: Schema.optionalKey(Schema.NullOr(Schema.String)),
  familyName: Schema.optionalKey(Schema.NullOr(Schema.String)),
  status: ContactStatus,
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalContact" })
export type Contact = typeof Contact.Type
