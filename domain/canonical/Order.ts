import { Schema } from "effect"
import { Attributes, Instant } from "./FieldTypes.ts"
import { LineItem } from "./LineItem.ts"
import { Currency, MinorUnits } from "./Money.ts"

export const OrderStatus = Schema.Literals(["pending", "open", "completed", "cancelled", "refunded"])

/** A purchase of tickets. */
export const Order = Schema.Struct({
  id: Schema.String,
  customerId: Schema.optionalKey(Schema.NullOr(Schema.String)),
  lines: Schema.optionalKey(Schema.Array(LineItem)),
  totalMinor: Schema.optionalKey(Schema.NullOr(MinorUnits)),
  currency: Schema.optionalKey(Schema.NullOr(Currency)),
  status: Schema.optionalKey(OrderStatus),
  placedAt: Schema.optionalKey(Schema.NullOr(Instant)),
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalOrder" })
export type Order = typeof Order.Type
