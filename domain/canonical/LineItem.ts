import { Schema } from "effect"
import { MinorUnits } from "./Money.ts"

/** One line of an order or invoice; `productId` is null for lines without a catalog item (fees, discounts). */
export const LineItem = Schema.Struct({
  productId: Schema.NullOr(Schema.String),
  quantity: Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)),
  unitPriceMinor: Schema.optionalKey(Schema.NullOr(MinorUnits)),
  description: Schema.optionalKey(Schema.NullOr(Schema.String))
}).annotate({ identifier: "CanonicalLineItem" })
export type LineItem = typeof LineItem.Type
