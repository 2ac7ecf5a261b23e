import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { canonicalCatalogs } from "../../../domain/canonical/EntityType.ts"
import { providerCatalog, sidesOf } from "../../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../../domain/mapping/Compile.ts"
import type { FieldCatalog } from "../../../domain/mapping/FieldCatalog.ts"
import { brokenRules, healRules } from "../../../domain/mapping/Heal.ts"
import { parsePath } from "../../../domain/mapping/Path.ts"
import { maxRules, type Rule } from "../../../domain/mapping/Rule.ts"
import { compileTransform, formatInstant } from "../../../domain/mapping/Transform.ts"
import { validateRules } from "../../../domain/mapping/Validate.ts"

const stripeCustomer = sidesOf("stripe", "customer", "inbound")
const validInbound = (rules: ReadonlyArray<Rule>) =>
  validateRules(rules, stripeCustomer.sources, stripeCustomer.targets)
const apply = (rules: ReadonlyArray<Rule>, record: unknown, targets: FieldCatalog = canonicalCatalogs.customer) =>
  compileRules(rules, targets)(record)

describe("mapping validation", () => {
  it("lists every problem with its rule index and field", () => {
    const problems = validInbound([
      { target: "id", source: "id" },
      { target: "email", source: "emial" },
      { target: "nickname", source: "name" },
      { target: "phone", source: "address" },
      { target: "givenName", source: "name", template: "{name}" },
      { target: "email", source: "email" },
      { target: "familyName" }
    ])
    assert.deepStrictEqual(
      problems.map((p) => [p.rule, p.field]),
      [
        [1, "emial"],
        [2, "nickname"],
        [3, "phone"],
        [4, "givenName"],
        [5, "email"],
        [6, "familyName"]
      ]
    )
    assert.match(problems[0]!.message, /unknown source field emial/)
    assert.match(problems[1]!.message, /unknown target field nickname/)
    assert.match(problems[2]!.message, /cannot convert object to phone/)
    assert.match(problems[4]!.message, /already written by rule 1/)
  })

  it("a required target left unmapped and a read-only target are problems", () => {
    const noId = validInbound([{ target: "email", source: "email" }])
    assert.deepStrictEqual(noId, [{ rule: null, field: "id", message: "required target id is not mapped" }])
    const outbound = sidesOf("stripe", "customer", "outbound")
    const readOnly = validateRules([{ target: "created", source: "id" }], outbound.sources, outbound.targets)
    assert.deepStrictEqual(readOnly, [
      { rule: 0, field: "created", message: "created is read-only" },
      { rule: 0, field: "created", message: "cannot convert string to unix (created)" }
    ])
    const quickbooks = sidesOf("quickbooks", "customer", "outbound")
    assert.deepStrictEqual(
      validateRules([{ target: "GivenName", source: "givenName" }], quickbooks.sources, quickbooks.targets).map(
        (p) => p.field
      ),
      ["DisplayName"]
    )
  })

  it("types convert only through the transforms that convert them", () => {
    const product = sidesOf("quickbooks", "product", "inbound")
    const base: Array<Rule> = [
      { target: "id", source: "Id" },
      { target: "name", source: "Name" }
    ]
    const raw = validateRules(
      [...base, { target: "priceMinor", source: "UnitPrice" }],
      product.sources,
      product.targets
    )
    assert.match(raw[0]!.message, /cannot convert decimal to integer/)
    const converted = validateRules(
      [
        ...base,
        { target: "priceMinor", source: "UnitPrice", transforms: [{ op: "money", to: "minor", currency: "USD" }] }
      ],
      product.sources,
      product.targets
    )
    assert.deepStrictEqual(converted, [])
    const noCurrency = validateRules(
      [...base, { target: "priceMinor", source: "UnitPrice", transforms: [{ op: "money", to: "minor" }] }],
      product.sources,
      product.targets
    )
    assert.match(noCurrency[0]!.message, /exactly one of currency and currencyFrom/)
  })

  it("a lookup into an enum may only write allowed values", () => {
    const problems = validInbound([
      { target: "id", source: "id" },
      { target: "marketingConsent", source: "tax_exempt", transforms: [{ op: "lookup", table: { none: "yes" } }] }
    ])
    assert.match(problems[0]!.message, /lookup writes yes, not among granted, denied, pending, unknown/)
  })

  it("limits: too many rules, paths too deep, [] on one side only", () => {
    const many = Array.from({ length: maxRules + 1 }, (): Rule => ({ target: "id", source: "id" }))
    assert.deepStrictEqual(
      validInbound(many).map((p) => p.field),
      ["rules"]
    )
    assert.match(String(parsePath("a.b.c.d.e.f.g.h.i")), /deeper than 8/)
    const order = sidesOf("stripe", "invoice", "inbound")
    const mixed = validateRules(
      [
        { target: "id", source: "id" },
        { target: "lines[].description", source: "description" }
      ],
      order.sources,
      order.targets
    )
    assert.match(mixed[0]!.message, /\[\] must appear in both/)
  })
})

describe("compiled mappings", () => {
  it("applies transforms, defaults and templates, and reports warnings per rule", () => {
    const outcome = apply(
      [
        { target: "id", source: "id" },
        { target: "email", source: "email", transforms: [{ op: "trim" }, { op: "lower" }] },
        { target: "givenName", source: "name", transforms: [{ op: "split", separator: " ", index: 0 }] },
        { target: "familyName", source: "name", transforms: [{ op: "split", separator: " ", index: -1 }] },
        { target: "phone", source: "phone", transforms: [{ op: "phoneE164", defaultCountry: "US" }] },
        { target: "address.country", source: "address.country", transforms: [{ op: "upper" }] },
        { target: "marketingConsent", default: "unknown" },
        { target: "attributes.note", template: "{metadata.tier} member since {metadata.since}" }
      ],
      {
        id: "cus_1",
        email: "  Jenny.Rosen@Example.com ",
        name: "Jenny Rosen",
        phone: "(415) 555-0123",
        address: { country: "us" },
        metadata: { tier: "gold", since: 2019 }
      }
    )
    assert.deepStrictEqual(outcome.output, {
      id: "cus_1",
      email: "jenny.rosen@example.com",
      givenName: "Jenny",
      familyName: "Rosen",
      phone: "+14155550123",
      address: { country: "US" },
      marketingConsent: "unknown",
      attributes: { note: "gold member since 2019" }
    })
    assert.deepStrictEqual(
      outcome.warnings.map((w) => [w.rule, w.kind]),
      [
        [4, "coerced"],
        [6, "defaulted"]
      ]
    )
    assert.deepStrictEqual(outcome.errors, [])
  })

  it("a failing rule writes nothing and reports an error; the others still run", () => {
    const outcome = apply(
      [
        { target: "id", source: "id", required: true },
        { target: "email", source: "email" },
        { target: "phone", source: "phone" }
      ],
      { email: "not-an-email", phone: "+14155550123" }
    )
    assert.deepStrictEqual(outcome.output, { phone: "+14155550123" })
    assert.deepStrictEqual(
      outcome.errors.map((e) => [e.rule, e.field]),
      [
        [0, "id"],
        [1, "email"]
      ]
    )
  })

  it("truncates to the target's max length, and refuses overlong text without truncate", () => {
    const targets = providerCatalog("stripe", "customer")
    const long = "x".repeat(300)
    const cut = compileRules([{ target: "name", source: "n", transforms: [{ op: "truncate" }] }], targets)({ n: long })
    assert.strictEqual((cut.output.name as string).length, 256)
    assert.strictEqual(cut.warnings[0]!.kind, "truncated")
    const refused = compileRules([{ target: "name", source: "n" }], targets)({ n: long })
    assert.match(refused.errors[0]!.message, /more than the 256 name holds/)
  })

  it("money by currency exponent, dates across time zones, lookups with a default", () => {
    const outcome = compileRules(
      [
        { target: "id", source: "Id" },
        {
          target: "totalMinor",
          source: "TotalAmt",
          transforms: [{ op: "money", to: "minor", currencyFrom: "CurrencyRef.value" }]
        },
        { target: "currency", source: "CurrencyRef.value" },
        {
          target: "placedAt",
          source: "TxnDate",
          transforms: [{ op: "date", from: "local", to: "iso", timeZone: "America/New_York" }]
        },
        {
          target: "status",
          source: "State",
          transforms: [{ op: "lookup", table: { Paid: "completed" }, default: "open" }]
        }
      ],
      canonicalCatalogs.order
    )
    const kwd = outcome({
      Id: "9",
      TotalAmt: 12.345,
      CurrencyRef: { value: "KWD" },
      TxnDate: "2026-07-01 20:00:00",
      State: "?"
    })
    assert.deepStrictEqual(kwd.output, {
      id: "9",
      totalMinor: 12345,
      currency: "KWD",
      placedAt: "2026-07-02T00:00:00Z",
      status: "open"
    })
    const jpy = outcome({ Id: "10", TotalAmt: 1200, CurrencyRef: { value: "JPY" }, TxnDate: "2026-01-15 09:30:00" })
    assert.strictEqual(jpy.output.totalMinor, 1200)
    assert.strictEqual(jpy.output.placedAt, "2026-01-15T14:30:00Z")
    const usd = outcome({ Id: "11", TotalAmt: 12.345, CurrencyRef: { value: "USD" } })
    assert.match(usd.errors[0]!.message, /more decimals than USD allows/)
  })

  it("maps arrays element by element and selects elements by key", () => {
    const outcome = compileRules(
      [
        { target: "id", source: "Id" },
        { target: "lines[].productId", source: "Line[].SalesItemLineDetail.ItemRef.value", default: null },
        { target: "lines[].quantity", source: "Line[].SalesItemLineDetail.Qty", default: 1 },
        { target: "attributes.crew", source: "CustomField[DefinitionId=1].StringValue" }
      ],
      canonicalCatalogs.order
    )({
      Id: "17",
      Line: [{ SalesItemLineDetail: { ItemRef: { value: "4" }, Qty: 2 } }, { DetailType: "SubTotalLineDetail" }],
      CustomField: [
        { DefinitionId: "2", StringValue: "no" },
        { DefinitionId: "1", StringValue: "Crew 7" }
      ]
    })
    assert.deepStrictEqual(outcome.output, {
      id: "17",
      lines: [
        { productId: "4", quantity: 2 },
        { productId: null, quantity: 1 }
      ],
      attributes: { crew: "Crew 7" }
    })
    const back = compileRules(
      [{ target: "CustomField[DefinitionId=1].StringValue", source: "attributes.crew" }],
      [{ path: "CustomField[DefinitionId=1].StringValue", type: "string" }]
    )({ attributes: { crew: "Crew 7" } })
    assert.deepStrictEqual(back.output, { CustomField: [{ DefinitionId: "1", StringValue: "Crew 7" }] })
  })
})

describe("date arithmetic", () => {
  it("writes and reads instants exactly as Date does, across the whole 4-digit year range", () => {
    const toMillis = compileTransform({ op: "date", from: "iso", to: "unixMillis" }, () => () => undefined, undefined)
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        const iso = new Date(ms).toISOString()
        assert.strictEqual(formatInstant(ms), iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso)
        assert.strictEqual(
          toMillis(iso, {}, () => {}),
          ms
        )
        assert.strictEqual(
          toMillis(iso.replace("Z", "+05:30"), {}, () => {}),
          ms - 19_800_000
        )
      }),
      { numRuns: 2000 }
    )
  })
})

describe("healing", () => {
  const merge = (tag: string, id: string, name: string) => ({
    path: `merge_fields.${tag}`,
    type: "string" as const,
    custom: { stableId: id, name }
  })
  const rules: ReadonlyArray<Rule> = [
    { target: "id", source: "id" },
    { target: "givenName", source: "merge_fields.FNAME", sourceId: "1" },
    { target: "attributes.birthday", source: "merge_fields.BIRTHDAY" },
    { target: "attributes.seat", source: "merge_fields.SEAT", sourceId: "7" }
  ]

  it("follows a renamed field by its stable id, then by a similar name, and disables what is gone", () => {
    const live = [
      ...providerCatalog("mailchimp", "contact"),
      merge("FIRSTNAME", "1", "First name"),
      merge("BIRTHDAYS", "5", "Date of birth")
    ]
    assert.deepStrictEqual(
      brokenRules(rules, "inbound", live).map((b) => b.rule),
      [1, 2, 3]
    )
    const healed = healRules(rules, "inbound", live)
    assert.deepStrictEqual(healed.changes, [
      { rule: 1, field: "merge_fields.FNAME", action: "repaired", to: "merge_fields.FIRSTNAME", by: "stableId" },
      {
        rule: 2,
        field: "merge_fields.BIRTHDAY",
        action: "repaired",
        to: "merge_fields.BIRTHDAYS",
        by: "name",
        similarity: 0.89
      },
      {
        rule: 3,
        field: "merge_fields.SEAT",
        action: "disabled",
        reason: "merge_fields.SEAT no longer exists at the provider (field id 7 is gone)"
      }
    ])
    assert.deepStrictEqual(healed.rules[1], { target: "givenName", source: "merge_fields.FIRSTNAME", sourceId: "1" })
    assert.deepStrictEqual(healed.rules[2]?.sourceId, "5")
    assert.isDefined(healed.rules[3]?.disabled)
    assert.deepStrictEqual(brokenRules(healed.rules, "inbound", live), [])
    assert.deepStrictEqual(healRules(healed.rules, "inbound", live).changes, [])
  })

  it("compares the names of fields, not their value accessors: a deleted QuickBooks or Square field is not guessed", () => {
    const quickbooks = (n: number, name: string) => ({
      path: `CustomField[DefinitionId=${n}].StringValue`,
      type: "string" as const,
      custom: { stableId: String(n), name }
    })
    const crew: Rule = { target: "attributes.crew", source: "CustomField[DefinitionId=1].StringValue", sourceId: "1" }
    const qbo = healRules([crew], "inbound", [...providerCatalog("quickbooks", "order"), quickbooks(2, "Sales Rep")])
    assert.deepStrictEqual(qbo.changes, [
      {
        rule: 0,
        field: "CustomField[DefinitionId=1].StringValue",
        action: "disabled",
        reason: "CustomField[DefinitionId=1].StringValue no longer exists at the provider (field id 1 is gone)"
      }
    ])
    const square = (key: string) => ({
      path: `custom_attributes.${key}.value`,
      type: "string" as const,
      custom: { stableId: key, name: key }
    })
    const seat: Rule = { target: "attributes.seat", source: "custom_attributes.seat.value" }
    const live = [...providerCatalog("square", "customer"), square("member-since"), square("seats")]
    assert.deepStrictEqual(
      healRules([seat], "inbound", live).changes.map((c) => [c.action, c.to]),
      [["repaired", "custom_attributes.seats.value"]]
    )
    assert.deepStrictEqual(
      healRules([seat], "inbound", [...providerCatalog("square", "customer"), square("member-since")]).changes.map(
        (c) => c.action
      ),
      ["disabled"]
    )
  })
})
