import { promisify } from "node:util"
import { gunzip } from "node:zlib"

/** One operation's answer in a finished batch's archive: `response` is the body Mailchimp answered, as JSON text. */
export interface BatchResult {
  readonly status_code: number
  readonly operation_id: string | null
  readonly response: string
}

const gunzipped = promisify(gunzip)
const block = 512

const text = (bytes: Uint8Array, from: number, length: number) => {
  const field = bytes.subarray(from, from + length)
  const end = field.indexOf(0)
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end))
}

const octal = (bytes: Uint8Array, from: number, length: number) => {
  const digits = text(bytes, from, length).trim()
  return digits === "" ? 0 : Number.parseInt(digits, 8)
}

/**
 * The regular files of a ustar archive, by name (the format Mailchimp's batch archives use: a few JSON files). Pax and
 * GNU long-name headers are skipped with their data; a name never decides anything here, only the contents do.
 */
const filesOf = (tar: Uint8Array): Array<{ readonly name: string; readonly data: Uint8Array }> => {
  const files: Array<{ readonly name: string; readonly data: Uint8Array }> = []
  let at = 0
  while (at + block <= tar.length) {
    const header = tar.subarray(at, at + block)
    if (header.every((b) => b === 0)) break
    const size = octal(header, 124, 12)
    const type = String.fromCharCode(header[156] ?? 0)
    const prefix = text(header, 345, 155)
    const name = prefix === "" ? text(header, 0, 100) : `${prefix}/${text(header, 0, 100)}`
    const start = at + block
    if (start + size > tar.length) throw new Error(`the batch archive's ${name} is cut short`)
    if (type === "0" || type === "\0") files.push({ name, data: tar.subarray(start, start + size) })
    at = start + Math.ceil(size / block) * block
  }
  return files
}

const isResult = (value: unknown): value is BatchResult => {
  if (typeof value !== "object" || value === null) return false
  const r = value as Record<string, unknown>
  return (
    typeof r.status_code === "number" &&
    (typeof r.operation_id === "string" || r.operation_id === null || r.operation_id === undefined) &&
    (typeof r.response === "string" || r.response === undefined)
  )
}

/**
 * A finished batch's results from its `response_body_url` download: a gzipped tar of JSON files, each an array of
 * `{ status_code, operation_id, response }`. Throws when the archive is not one (the caller makes it a failed call).
 */
export const readBatchResults = async (archive: Uint8Array): Promise<ReadonlyArray<BatchResult>> => {
  const results: Array<BatchResult> = []
  for (const file of filesOf(await gunzipped(archive))) {
    if (!file.name.endsWith(".json")) continue
    const parsed: unknown = JSON.parse(new TextDecoder().decode(file.data))
    if (!Array.isArray(parsed)) throw new Error(`the batch archive's ${file.name} is not an array of results`)
    for (const entry of parsed) {
      if (!isResult(entry)) throw new Error(`the batch archive's ${file.name} holds an entry that is not a result`)
      results.push({
        status_code: entry.status_code,
        operation_id: entry.operation_id ?? null,
        response: entry.response ?? ""
      })
    }
  }
  return results
}
