import type { Reply } from "./FakeHttp.ts"

/**
 * The company's sales-form custom fields as QuickBooks Online keeps them in Preferences
 * (`GET /v3/company/{realm}/preferences`): three definitions, `SalesFormsPrefs.UseSalesCustomName<n>` turning one on
 * and `SalesFormsPrefs.SalesCustomName<n>` naming it, in two groups of `CustomField` settings. Deleting a field in
 * QuickBooks turns its definition off.
 */
export interface FakeSalesCustomField {
  readonly definitionId: 1 | 2 | 3
  readonly name: string
  readonly enabled: boolean
}

const defaults: ReadonlyArray<FakeSalesCustomField> = [
  { definitionId: 1, name: "Crew #", enabled: true },
  { definitionId: 2, name: "Sales Rep", enabled: true },
  { definitionId: 3, name: "", enabled: false }
]

export const fakeQuickBooksPreferences = (json: (status: number, body: unknown) => Reply, now: () => number) => {
  let fields = [...defaults]

  const preferences = () =>
    json(200, {
      Preferences: {
        SalesFormsPrefs: {
          CustomField: [
            {
              CustomField: fields.map((f) => ({
                Name: `SalesFormsPrefs.UseSalesCustomName${f.definitionId}`,
                Type: "BooleanType",
                BooleanValue: f.enabled
              }))
            },
            {
              CustomField: fields.map((f) => ({
                Name: `SalesFormsPrefs.SalesCustomName${f.definitionId}`,
                Type: "StringType",
                StringValue: f.name
              }))
            }
          ],
          AllowDeposit: true,
          AllowDiscount: true,
          DefaultTerms: { value: "3" },
          CustomTxnNumbers: false
        },
        CurrencyPrefs: { MultiCurrencyEnabled: false, HomeCurrency: { value: "USD" } },
        domain: "QBO",
        sparse: false,
        Id: "1",
        SyncToken: "6",
        MetaData: { CreateTime: "2026-01-01T00:00:00-08:00", LastUpdatedTime: "2026-01-01T00:00:00-08:00" }
      },
      time: new Date(now()).toISOString()
    })

  return {
    preferences,
    controls: {
      salesCustomFields: (): ReadonlyArray<FakeSalesCustomField> => [...fields],
      /** What deleting a custom field in QuickBooks' settings does: the definition is turned off. */
      deleteSalesCustomField: (definitionId: 1 | 2 | 3) => {
        fields = fields.map((f) => (f.definitionId === definitionId ? { ...f, enabled: false } : f))
      }
    }
  }
}
