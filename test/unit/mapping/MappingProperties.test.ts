import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as fc from "fast-check"
import { canonicalCatalogs, canonicalSchemas, type EntityType } from "../../../domain/canonical/EntityType.ts"
import { sidesOf } from "../../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../../domain/mapping/Compile.ts"
import { builtInTemplates } from "../../../domain/mapping/DefaultTemplates.ts"
import type { FieldCatalog, FieldSpec } from "../../../domain/mapping/FieldCatalog.ts"
import type { Rule } from "../../../domain/mapping/Rule.ts"
import { formatInstant, inverseOf, type Transform } from "../../../domain/mapping/Transform.ts"
import { validateRules } from "../../../domain/mapping/Validate.ts"
import { type Provider, providers } from "../../../domain/Provider.ts"
import { entitiesFor, mappedEntities } from "../../../domain/sync/SupportedPairs.ts"

const fixture = (provider: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/sync/${provider}/${file}.json`, import.meta.url), "utf8"))

/** Real list payloads (test/fixtures/sync) and the records in them, per provider × entity. */
const records: Record<Provider, Partial<Record<EntityType, ReadonlyArray<unknown>>>> = {
  stripe: {
    payment: fixture("stripe", "list_charges").data,
    invoice: fixture("stripe", "list_invoices").data,
    order: fixture("stripe", "list_payment_intents").data,
    product: fixture("stripe", "list_products").data
  },
  square: {
    customer: fixture("square", "list_customers").customers,
    product: [
      ...fixture("square", "search_catalog_objects").objects.filter((o: { type: string }) => o.type === "ITEM"),
      ...fixture("square", "search_catalog_items").items
    ],
    payment: fixture("square", "list_payments").payments
  },
  quickbooks: {
    customer: fixture("quickbooks", "query_customer_p1_startposition1").QueryResponse.Customer,
    order: fixture("quickbooks", "query_salesreceipt").QueryResponse.SalesReceipt
  },
  mailchimp: { contact: fixture("mailchimp", "list_members_page").members }
}

/** The custom fields the fixtures' accounts have: Mailchimp's default merge fields, the sales receipts' "Crew #". */
const customFields: Record<Provider, FieldCatalog> = {
  stripe: [],
  square: [],
  quickbooks: [
    {
      path: "CustomField[DefinitionId=1].StringValue",
      type: "string",
      maxLength: 31,
      custom: { stableId: "1", name: "Crew #" }
    }
  ],
  mailchimp: [
    { path: "merge_fields.FNAME", type: "string", custom: { stableId: "1", name: "First Name" } },
    { path: "merge_fields.LNAME", type: "string", custom: { stableId: "2", name: "Last Name" } }
  ]
}

describe("default templates", () => {
  it("exist for every supported provider × entity, inbound, in every venue type, and validate against both catalogs", () => {
    for (const provider of providers) {
      const entities = entitiesFor(provider, "inbound")
      for (const entity of entities) {
        const names = builtInTemplates
          .filter((t) => t.provider === provider && t.entityType === entity && t.direction === "inbound")
          .map((t) => t.name)
        assert.deepStrictEqual(names, ["general", "theatre", "music", "sports"], `${provider} ${entity}`)
      }
    }
    for (const t of builtInTemplates) {
      assert.isTrue(mappedEntities(t.provider).includes(t.entityType), `${t.provider} ${t.entityType}`)
      const { sources, targets } = sidesOf(t.provider, t.entityType, t.direction, customFields[t.provider])
      assert.deepStrictEqual(
        validateRules(t.rules, sources, targets),
        [],
        `${t.provider} ${t.entityType} ${t.direction} ${t.name}`
      )
    }
  })

  it("map every real fixture without an error, into records the canonical Schemas accept, and back out", () => {
    let mapped = 0
    let expected = 0
    for (const t of builtInTemplates.filter((t) => t.direction === "inbound")) {
      const inbound = compileRules(t.rules, canonicalCatalogs[t.entityType])
      const outboundTemplate = builtInTemplates.find(
        (o) =>
          o.direction === "outbound" && o.provider === t.provider && o.entityType === t.entityType && o.name === t.name
      )
      const outbound =
        outboundTemplate &&
        compileRules(
          outboundTemplate.rules,
          sidesOf(t.provider, t.entityType, "outbound", customFields[t.provider]).targets
        )
      expected += (records[t.provider][t.entityType] ?? []).length
      for (const record of records[t.provider][t.entityType] ?? []) {
        const label = `${t.provider} ${t.entityType} ${t.name} ${(record as { id?: string; Id?: string }).id ?? (record as { Id?: string }).Id}`
        const result = inbound(record)
        assert.deepStrictEqual(result.errors, [], label)
        Schema.decodeUnknownSync(canonicalSchemas[t.entityType] as Schema.Codec<unknown>)(result.output)
        if (outbound) assert.deepStrictEqual(outbound(result.output).errors, [], `${label} outbound`)
        mapped += 1
      }
    }
    assert.strictEqual(mapped, expected)
    assert.isAtLeast(mapped, 4 * 15)
  })
})

/** One invertible rule: a provider field, its canonical field, and values that round-trip. */
interface Invertible {
  readonly rule: Rule
  readonly provider: FieldSpec
  readonly canonical: string
  readonly value: fc.Arbitrary<unknown>
}

const exactDecimal = (exponent: number) =>
  fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }).map((n) =>
    exponent === 0
      ? String(n)
      : `${n < 0 ? "-" : ""}${String(Math.abs(n))
          .padStart(exponent + 1, "0")
          .replace(new RegExp(`(\\d{${exponent}})$`), ".$1")}`
  )

const pool: ReadonlyArray<Invertible> = [
  {
    rule: { target: "id", source: "ref" },
    provider: { path: "ref", type: "string" },
    canonical: "id",
    value: fc.string({ minLength: 1 })
  },
  ...(["JPY", "USD", "KWD"] as const).map(
    (currency, i): Invertible => ({
      rule: {
        target: `attributes.a${i}`,
        source: `amount_${currency}`,
        transforms: [{ op: "money", to: "minor", currency }]
      },
      provider: { path: `amount_${currency}`, type: "string" },
      canonical: `attributes.a${i}`,
      value: exactDecimal({ JPY: 0, USD: 2, KWD: 3 }[currency])
    })
  ),
  {
    rule: { target: "placedAt", source: "created", transforms: [{ op: "date", from: "unix", to: "iso" }] },
    provider: { path: "created", type: "unix" },
    canonical: "placedAt",
    value: fc.integer({ min: 0, max: 4_102_444_800 })
  },
  {
    rule: {
      target: "status",
      source: "state",
      transforms: [{ op: "lookup", table: { OPEN: "open", DONE: "completed", VOID: "cancelled" } }]
    },
    provider: { path: "state", type: "enum", values: ["OPEN", "DONE", "VOID"] },
    canonical: "status",
    value: fc.constantFrom("OPEN", "DONE", "VOID")
  },
  {
    rule: { target: "customerId", source: "customer.ref" },
    provider: { path: "customer.ref", type: "string" },
    canonical: "customerId",
    value: fc.string()
  },
  {
    rule: { target: "attributes.seen", source: "seen_at", transforms: [{ op: "date", from: "iso", to: "unixMillis" }] },
    provider: { path: "seen_at", type: "instant" },
    canonical: "attributes.seen",
    value: fc.integer({ min: 0, max: 4_102_444_800_000 }).map(formatInstant)
  }
]

const invert = (rule: Rule): Rule => ({
  target: rule.source!,
  source: rule.target,
  transforms: [...(rule.transforms ?? [])].reverse().map((t) => inverseOf(t) as Transform)
})

describe("outbound ∘ inbound", () => {
  it("is the identity on fields mapped both ways with invertible transforms", () => {
    const chosen = fc.subarray([...pool], { minLength: 1 })
    fc.assert(
      fc.property(
        chosen.chain((rules) => fc.tuple(fc.constant(rules), fc.tuple(...rules.map((r) => r.value)))),
        ([rules, values]) => {
          for (const r of rules) for (const t of r.rule.transforms ?? []) assert.isDefined(inverseOf(t), t.op)
          const providerCatalog = rules.map((r) => r.provider)
          const record: Record<string, unknown> = {}
          rules.forEach((r, i) => {
            const path = r.provider.path.split(".")
            let at = record
            for (const key of path.slice(0, -1)) {
              at[key] ??= {}
              at = at[key] as Record<string, unknown>
            }
            at[path.at(-1)!] = values[i]
          })
          const inbound = rules.map((r) => r.rule)
          assert.deepStrictEqual(
            validateRules(inbound, providerCatalog, canonicalCatalogs.order).filter((p) => p.rule !== null),
            []
          )
          const canonical = compileRules(inbound, canonicalCatalogs.order)(record)
          assert.deepStrictEqual(canonical.errors, [])
          const back = compileRules(inbound.map(invert), providerCatalog)(canonical.output)
          assert.deepStrictEqual(back.errors, [])
          assert.deepStrictEqual(back.output, record)
        }
      ),
      { numRuns: 300 }
    )
  })
})
