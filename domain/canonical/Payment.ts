import { Schema } from "effect"
import { Attributes, Instant } from "./FieldTypes.ts"
import { Currency, MinorUnits } from "./Money.ts"

export const PaymentStatus = Schema.Literals(["pending", "succeeded", "failed", "refunded", "cancelled"])
export const PaymentMethod = Schema.Literals(["card", "cash", "bank_transfer", "wallet", "other"])

/** Money received for an order or invoice. */
export const Payment = Schema.Struct({
  id: Schema.String,
  orderId: Schema.optionalKey(Schema.NullOr(Schema.String)),
  amountMinor: Schema.optionalKey(Schema.NullOr(MinorUnits)),
  currency: Schema.optionalKey(Schema.NullOr(Currency)),
  status: Schema.optionalKey(PaymentStatus),
  method: Schema.optionalKey(PaymentMethod),
  processedAt: Schema.optionalKey(Schema.NullOr(Instant)),
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalPayment" })
export type Payment = typeof Payment.Type
