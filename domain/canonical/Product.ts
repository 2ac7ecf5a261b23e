import { Schema } from "effect"
import { Attributes, Instant } from "./FieldTypes.ts"
import { Currency, MinorUnits } from "./Money.ts"

/** A ticketed event or a ticket type, with its price. */
export const Product = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  description: Schema.optionalKey(Schema.NullOr(Schema.String)),
  priceMinor: Schema.optionalKey(Schema.NullOr(MinorUnits)),
  currency: Schema.optionalKey(Schema.NullOr(Currency)),
  startsAt: Schema.optionalKey(Schema.NullOr(Instant)),
  active: Schema.optionalKey(Schema.Boolean),
  /** Tickets left to sell (0: sold out): pushed as the inventory count where the provider keeps one (Square). */
  capacityRemaining: Schema.optionalKey(Schema.NullOr(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))),
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalProduct" })
export type Product = typeof Product.Type
