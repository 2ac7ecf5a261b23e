import type { FieldCatalog } from "../FieldCatalog.ts"
import { field, readOnly } from "./Field.ts"

/**
 * QuickBooks Online entities (minorversion 75). Amounts are decimals in major
 * units; `CurrencyRef.value` is the ISO code. Sales forms carry up to three
 * custom fields, `CustomField[DefinitionId=n].StringValue`, discovered from the
 * company's preferences.
 */
const meta = [
  readOnly("Id", "string"),
  readOnly("SyncToken", "string"),
  readOnly("domain", "string"),
  readOnly("sparse", "boolean"),
  readOnly("MetaData.CreateTime", "instant"),
  readOnly("MetaData.LastUpdatedTime", "instant")
]
const address = (prefix: string) => [
  field(prefix, "object"),
  field(`${prefix}.Line1`, "string", { maxLength: 500 }),
  field(`${prefix}.Line2`, "string", { maxLength: 500 }),
  field(`${prefix}.City`, "string", { maxLength: 255 }),
  field(`${prefix}.CountrySubDivisionCode`, "string", { maxLength: 255 }),
  field(`${prefix}.PostalCode`, "string", { maxLength: 30 }),
  field(`${prefix}.Country`, "string", { maxLength: 255 })
]
const currency = field("CurrencyRef.value", "currency")
const lines = [
  field("Line", "array", { required: true }),
  field("Line[].Description", "string", { maxLength: 4000 }),
  field("Line[].Amount", "decimal"),
  field("Line[].DetailType", "enum", {
    values: ["SalesItemLineDetail", "GroupLineDetail", "DescriptionOnly", "DiscountLineDetail", "SubTotalLineDetail"]
  }),
  field("Line[].SalesItemLineDetail.ItemRef.value", "string"),
  field("Line[].SalesItemLineDetail.Qty", "decimal"),
  field("Line[].SalesItemLineDetail.UnitPrice", "decimal")
]

export const quickbooksCatalog: Record<string, FieldCatalog> = {
  customer: [
    ...meta,
    field("DisplayName", "string", { required: true, unique: true, maxLength: 500 }),
    field("GivenName", "string", { maxLength: 100 }),
    field("FamilyName", "string", { maxLength: 100 }),
    field("MiddleName", "string", { maxLength: 100 }),
    field("CompanyName", "string", { maxLength: 100 }),
    field("PrimaryEmailAddr.Address", "email", { maxLength: 100 }),
    field("PrimaryPhone.FreeFormNumber", "string", { maxLength: 30 }),
    field("Mobile.FreeFormNumber", "string", { maxLength: 30 }),
    ...address("BillAddr"),
    field("Notes", "string", { maxLength: 2000 }),
    field("Active", "boolean"),
    readOnly("Balance", "decimal"),
    field("CurrencyRef.value", "currency")
  ],
  product: [
    ...meta,
    field("Name", "string", { required: true, unique: true, maxLength: 100 }),
    field("Description", "string", { maxLength: 4000 }),
    field("Type", "enum", { values: ["Inventory", "Service", "NonInventory"] }),
    field("UnitPrice", "decimal"),
    field("Active", "boolean"),
    field("Sku", "string", { maxLength: 100 }),
    field("IncomeAccountRef.value", "string", { description: "required by QuickBooks for Service items" })
  ],
  invoice: [
    ...meta,
    field("CustomerRef.value", "string", { required: true }),
    field("DocNumber", "string", { maxLength: 21 }),
    field("TxnDate", "date"),
    field("DueDate", "date"),
    readOnly("TotalAmt", "decimal"),
    readOnly("Balance", "decimal"),
    currency,
    ...lines,
    field("PrivateNote", "string", { maxLength: 4000 }),
    field("BillEmail.Address", "email", { maxLength: 100 }),
    readOnly("EmailStatus", "enum", { values: ["NotSet", "NeedToSend", "EmailSent"] })
  ],
  order: [
    ...meta,
    field("CustomerRef.value", "string"),
    field("DocNumber", "string", { maxLength: 21 }),
    field("TxnDate", "date"),
    readOnly("TotalAmt", "decimal"),
    currency,
    ...lines,
    field("PrivateNote", "string", { maxLength: 4000 }),
    field("DepositToAccountRef.value", "string")
  ],
  payment: [
    ...meta,
    field("CustomerRef.value", "string", { required: true }),
    field("TotalAmt", "decimal", { required: true }),
    currency,
    field("TxnDate", "date"),
    field("PaymentRefNum", "string", { maxLength: 21 }),
    field("PaymentMethodRef.value", "string"),
    readOnly("UnappliedAmt", "decimal"),
    field("PrivateNote", "string", { maxLength: 4000 })
  ]
}
