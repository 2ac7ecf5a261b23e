import { Schema } from "effect"

/** An instant as ISO 8601 in UTC (`2026-11-01T19:30:00Z`, optional fraction); time zones are resolved by mapping. */
export const Instant = Schema.String.check(
  Schema.isPattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, {
    expected: "an ISO 8601 instant in UTC, e.g. 2026-11-01T19:30:00Z"
  })
).annotate({ identifier: "Instant" })

export const Email = Schema.String.check(
  Schema.isPattern(/^[^\s@]+@[^\s@]+$/, { expected: "an email address" }),
  Schema.isMaxLength(254)
).annotate({ identifier: "Email" })

/** E.164: `+` and 8 to 15 digits. */
export const PhoneE164 = Schema.String.check(
  Schema.isPattern(/^\+[1-9]\d{7,14}$/, { expected: "an E.164 phone number, e.g. +14155550123" })
).annotate({ identifier: "PhoneE164" })

/** ISO 3166-1 alpha-2 country code. */
export const CountryCode = Schema.String.check(
  Schema.isPattern(/^[A-Z]{2}$/, { expected: "an ISO 3166-1 alpha-2 country code" })
).annotate({ identifier: "CountryCode" })

/** Venue-specific extras a mapping may fill (seat section, artist, season…): text by name. */
export const Attributes = Schema.Record(Schema.String, Schema.String).annotate({ identifier: "Attributes" })

export const Address = Schema.Struct({
  line1: Schema.optionalKey(Schema.NullOr(Schema.String)),
  line2: Schema.optionalKey(Schema.NullOr(Schema.String)),
  city: Schema.optionalKey(Schema.NullOr(Schema.String)),
  region: Schema.optionalKey(Schema.NullOr(Schema.String)),
  postalCode: Schema.optionalKey(Schema.NullOr(Schema.String)),
  country: Schema.optionalKey(Schema.NullOr(CountryCode))
}).annotate({ identifier: "Address" })
export type Address = typeof Address.Type

/** Marketing consent is explicit: `unknown` is a state, never a default of `granted`. */
export const MarketingConsent = Schema.Literals(["granted", "denied", "pending", "unknown"])
export type MarketingConsent = typeof MarketingConsent.Type
