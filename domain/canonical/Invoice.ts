import { Schema } from "effect"
import { Attributes, Instant } from "./FieldTypes.ts"
import { LineItem } from "./LineItem.ts"
import { Currency, MinorUnits } from "./Money.ts"

export const InvoiceStatus = Schema.Literals(["draft", "open", "paid", "void", "uncollectible"])

/** A bill sent to a customer (group bookings, hires). */
export const Invoice = Schema.Struct({
  id: Schema.String,
  customerId: Schema.optionalKey(Schema.NullOr(Schema.String)),
  lines: Schema.optionalKey(Schema.Array(LineItem)),
  totalMinor: Schema.optionalKey(Schema.NullOr(MinorUnits)),
  currency: Schema.optionalKey(Schema.NullOr(Currency)),
  status: Schema.optionalKey(InvoiceStatus),
  dueAt: Schema.optionalKey(Schema.NullOr(Instant)),
  attributes: Schema.optionalKey(Attributes)
}).annotate({ identifier: "CanonicalInvoice" })
export type Invoice = typeof Invoice.Type
