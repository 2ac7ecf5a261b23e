import { json, type Reply } from "./FakeHttp.ts"
import type { Problem } from "./FakeMailchimpProblems.ts"

/**
 * The merge fields of each audience (`GET /3.0/lists/{id}/merge-fields`, `count`/`offset`, `total_items`), on the
 * Marketing API's wire: every audience starts with Mailchimp's defaults (FNAME 1, LNAME 2, ADDRESS 3, PHONE 4,
 * BIRTHDAY 5). Renaming a field keeps its `merge_id`, as in Mailchimp; deleting one frees its tag.
 */
export interface FakeMergeField {
  readonly merge_id: number
  readonly tag: string
  readonly name: string
  readonly type: "text" | "number" | "address" | "phone" | "date" | "birthday" | "dropdown" | "radio" | "zip" | "url"
  readonly required: boolean
  readonly options: Readonly<Record<string, unknown>>
}

const defaults: ReadonlyArray<FakeMergeField> = [
  { merge_id: 1, tag: "FNAME", name: "First Name", type: "text", required: false, options: { size: 25 } },
  { merge_id: 2, tag: "LNAME", name: "Last Name", type: "text", required: false, options: { size: 25 } },
  { merge_id: 3, tag: "ADDRESS", name: "Address", type: "address", required: false, options: { default_country: 164 } },
  {
    merge_id: 4,
    tag: "PHONE",
    name: "Phone Number",
    type: "phone",
    required: false,
    options: { phone_format: "none" }
  },
  {
    merge_id: 5,
    tag: "BIRTHDAY",
    name: "Birthday",
    type: "birthday",
    required: false,
    options: { date_format: "MM/DD" }
  }
]

const wire = (listId: string, f: FakeMergeField) => ({
  ...f,
  default_value: "",
  public: true,
  display_order: f.merge_id + 1,
  help_text: "",
  list_id: listId,
  _links: []
})

/** `respond` answers `/3.0/lists/{id}/merge-fields` (undefined for any other path) for the lists `known` names. */
export const fakeMailchimpMergeFields = (known: () => ReadonlyArray<string>, problem: Problem) => {
  const fields = new Map<string, Array<FakeMergeField>>()
  const of = (listId: string) => {
    if (!fields.has(listId)) fields.set(listId, [...defaults])
    return fields.get(listId)!
  }
  let reads = 0

  const respond = (method: string, url: URL): Reply | undefined => {
    const [version, lists, listId, sub, ...rest] = url.pathname.split("/").filter((s) => s !== "")
    if (version !== "3.0" || lists !== "lists" || sub !== "merge-fields" || rest.length > 0 || method !== "GET")
      return undefined
    if (listId === undefined || !known().includes(listId))
      return problem(404, "Resource Not Found", "The requested resource could not be found.")
    reads += 1
    const count = Math.min(Number(url.searchParams.get("count") ?? 10) || 10, 1000)
    const offset = Number(url.searchParams.get("offset") ?? 0) || 0
    const all = of(listId)
    return json(200, {
      merge_fields: all.slice(offset, offset + count).map((f) => wire(listId, f)),
      list_id: listId,
      total_items: all.length,
      _links: []
    })
  }

  return {
    respond,
    stats: () => ({ mergeFieldReads: reads }),
    controls: {
      mergeFields: (listId: string): ReadonlyArray<FakeMergeField> => [...of(listId)],
      /** What renaming a field in Mailchimp's audience settings does: new tag and name, same merge_id. */
      renameMergeField: (listId: string, tag: string, to: { readonly tag: string; readonly name: string }) => {
        const all = of(listId)
        const i = all.findIndex((f) => f.tag === tag)
        if (i < 0) throw new Error(`no merge field ${tag}`)
        all[i] = { ...all[i]!, ...to }
      },
      deleteMergeField: (listId: string, tag: string) => {
        fields.set(
          listId,
          of(listId).filter((f) => f.tag !== tag)
        )
      }
    }
  }
}
