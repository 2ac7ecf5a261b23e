import { Schema } from "effect"
import { Address, Attributes, Email, MarketingConsent, PhoneE164 } from "./FieldTypes.ts"

/** A person who buys tickets. */
export const Customer = Schema.Struct({
  id: Schema.String,
  email: Schema.optionalKey(Schema.NullOr(Email)),
  givenName: Schema.optionalKey(Schema.NullOr(Schema.String)),
  familyName: Schema.optionalKey(Schema.NullOr(Schema.String)),
  phone: Schema.optionalKey(Schema.NullOr(PhoneE164)),
  address: Schema.optionalKey(Schema.NullOr(Address)),
  marketingConsent: Schema.optionalKey(MarketingConsent),
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalCustomer" })
export type Customer = typeof Customer.Type
