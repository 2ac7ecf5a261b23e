import { json, type Reply } from "./FakeHttp.ts"

/**
 * The seller's customer custom attribute definitions (`GET /v2/customers/custom-attribute-definitions`, `limit` 1–100
 * and an opaque `cursor`), on Square's wire. The key is the definition's stable id: renaming changes only `name`.
 */
export interface FakeAttributeDefinition {
  readonly key: string
  readonly name: string
  readonly description?: string
  /** Square's common schema type: String, Number, Boolean, Email, PhoneNumber, Date, … */
  readonly type: string
}

const defaults: ReadonlyArray<FakeAttributeDefinition> = [
  { key: "seat-preference", name: "Seat preference", description: "Aisle, centre or box", type: "String" },
  { key: "member-since", name: "Member since", type: "Date" }
]

const wire = (d: FakeAttributeDefinition, version: number) => ({
  key: d.key,
  schema: { $ref: `https://developer-production-s.squarecdn.com/schemas/v1/common.json#squareup.common.${d.type}` },
  name: d.name,
  ...(d.description === undefined ? {} : { description: d.description }),
  visibility: "VISIBILITY_READ_WRITE_VALUES",
  version,
  updated_at: "2026-01-15T10:00:00Z",
  created_at: "2026-01-15T10:00:00Z"
})

export const fakeSquareCustomAttributes = () => {
  let definitions = defaults.map((d) => ({ definition: d, version: 1 }))

  /** Answers the list; the caller has checked the token. */
  const list = (url: URL): Reply => {
    const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 100) || 100, 1), 100)
    const offset = Number(url.searchParams.get("cursor") ?? 0) || 0
    const page = definitions.slice(offset, offset + limit)
    const next = offset + limit < definitions.length ? { cursor: String(offset + limit) } : {}
    return json(200, { custom_attribute_definitions: page.map((d) => wire(d.definition, d.version)), ...next })
  }

  return {
    list,
    controls: {
      attributeDefinitions: (): ReadonlyArray<FakeAttributeDefinition> => definitions.map((d) => d.definition),
      defineAttribute: (definition: FakeAttributeDefinition) => {
        definitions = [...definitions.filter((d) => d.definition.key !== definition.key), { definition, version: 1 }]
      },
      deleteAttributeDefinition: (key: string) => {
        definitions = definitions.filter((d) => d.definition.key !== key)
      }
    }
  }
}
