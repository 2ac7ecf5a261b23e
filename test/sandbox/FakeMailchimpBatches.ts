import { createHmac, randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { gzipSync } from "node:zlib"
import { json, listen, type Reply } from "./FakeHttp.ts"
import { mailchimpProblems, type Problem } from "./FakeMailchimpProblems.ts"

/**
 * Mailchimp's batch operations (PROVIDERS.md §1c Batch, §5; shapes of test/fixtures/sync/mailchimp/batch_*.json):
 * `POST /3.0/batches` `{ operations: [{ method, path, params?, body?, operation_id? }] }` (each `body` a JSON string,
 * each `path` under /3.0) answers the batch `pending` with zero counters; `GET /3.0/batches/{id}` answers `started`
 * until it has been read `pollsToFinish` times (default 2), then `finished` with its counters and a signed
 * `response_body_url`. That URL is on another host, as Mailchimp's (an S3 bucket) is: this fake's archive server,
 * which checks the signature and serves a gzipped tar of JSON files, each an array of `{ status_code, operation_id,
 * response }` with `response` the operation's answer as text. The operations run when the batch is submitted (a batch
 * nobody polls still writes, as a crashed writer's does), each through `execute`, the same code that answers the
 * request sent alone, and none through `admit`: a batch is one request whatever it holds.
 */
export interface FakeBatch {
  readonly id: string
  readonly accountId: string
  readonly operations: number
  readonly errored: number
  readonly status: "pending" | "started" | "finished"
}

interface BatchResult {
  readonly status_code: number
  readonly operation_id: string | null
  readonly response: string
}

interface Batch {
  readonly id: string
  readonly accountId: string
  readonly submittedAt: number
  readonly results: ReadonlyArray<BatchResult>
  polls: number
  completedAt: number | null
  archive: Buffer | null
}

export interface FakeMailchimpBatchesOptions {
  readonly now: () => number
  readonly problem: Problem
  /** Answers one operation as the API would answer it alone; undefined when no endpoint has the path. */
  readonly execute: (accountId: string, method: string, url: URL, body: string) => Reply | undefined
}

const methods: ReadonlyArray<string> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
/** Results per JSON file of an archive. */
const resultsPerFile = 500
const block = 512

const instant = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00")

/** A ustar header for a regular file. */
const tarHeader = (name: string, size: number, mtimeSeconds: number) => {
  const header = Buffer.alloc(block)
  header.write(name, 0, 100, "utf8")
  header.write("0000644\0", 100, "ascii")
  header.write("0000000\0", 108, "ascii")
  header.write("0000000\0", 116, "ascii")
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "ascii")
  header.write(`${mtimeSeconds.toString(8).padStart(11, "0")}\0`, 136, "ascii")
  header.write("        ", 148, "ascii")
  header.write("0", 156, "ascii")
  header.write("ustar\0", 257, "ascii")
  header.write("00", 263, "ascii")
  const sum = header.reduce((total, byte) => total + byte, 0)
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii")
  return header
}

/** A gzipped tar of the files: each a header, its bytes padded to 512, then two empty blocks. */
export const tarGz = (files: ReadonlyArray<{ readonly name: string; readonly data: Buffer }>, mtimeSeconds: number) =>
  gzipSync(
    Buffer.concat([
      ...files.flatMap(({ name, data }) => [
        tarHeader(name, data.length, mtimeSeconds),
        data,
        Buffer.alloc((block - (data.length % block)) % block)
      ]),
      Buffer.alloc(2 * block)
    ])
  )

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`

/** The batches part of the fake; `listen` starts its archive server. */
export const fakeMailchimpBatches = async (options: FakeMailchimpBatchesOptions) => {
  const { now, problem } = options
  const { unvalidated, jsonParseError } = mailchimpProblems(problem)
  const batches = new Map<string, Batch>()
  const signingKey = randomBytes(16)
  let pollsToFinish = 2
  let archiveDownloads = 0
  let archiveFailure: { status: number; remaining: number } | null = null

  const signature = (id: string, expires: number) =>
    createHmac("sha1", signingKey).update(`${id}\n${expires}`).digest("base64")

  const archiveServer = await listen(
    createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      archiveDownloads += 1
      const reply = (status: number, type: string, body: Buffer | string) => {
        res.writeHead(status, { "content-type": type })
        res.end(body)
      }
      if (archiveFailure !== null) {
        const { status } = archiveFailure
        archiveFailure.remaining -= 1
        if (archiveFailure.remaining <= 0) archiveFailure = null
        return reply(status, "application/xml", s3Error("InternalError", "We encountered an internal error."))
      }
      const id = /^\/([0-9a-f]+)-response\.tar\.gz$/.exec(url.pathname)?.[1]
      const batch = id === undefined ? undefined : batches.get(id)
      if (id === undefined || batch?.archive == null)
        return reply(404, "application/xml", s3Error("NoSuchKey", "The specified key does not exist."))
      const expires = Number(url.searchParams.get("Expires"))
      if (url.searchParams.get("Signature") !== signature(id, expires))
        return reply(
          403,
          "application/xml",
          s3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
          )
        )
      if (expires * 1000 < now()) return reply(403, "application/xml", s3Error("AccessDenied", "Request has expired"))
      return reply(200, "application/x-gzip", batch.archive)
    })
  )

  const links = (id: string) => [
    {
      rel: "parent",
      href: "https://us19.api.mailchimp.com/3.0/batches",
      method: "GET",
      targetSchema: "https://api.mailchimp.com/schema/3.0/Batches/Collection.json",
      schema: "https://api.mailchimp.com/schema/3.0/CollectionLinks/Batches.json"
    },
    {
      rel: "self",
      href: `https://us19.api.mailchimp.com/3.0/batches/${id}`,
      method: "GET",
      targetSchema: "https://api.mailchimp.com/schema/3.0/Batches/Instance.json"
    }
  ]

  const errored = (batch: Batch) => batch.results.filter((r) => r.status_code >= 400).length

  const resource = (batch: Batch, status: FakeBatch["status"]) => {
    const finished = status === "finished"
    const expires = Math.floor(now() / 1000) + 3600
    return {
      id: batch.id,
      status,
      total_operations: status === "pending" ? 0 : batch.results.length,
      finished_operations: finished
        ? batch.results.length
        : status === "started"
          ? Math.floor(batch.results.length / 2)
          : 0,
      errored_operations: finished ? errored(batch) : 0,
      submitted_at: instant(batch.submittedAt),
      completed_at: finished && batch.completedAt !== null ? instant(batch.completedAt) : "",
      response_body_url: finished
        ? `${archiveServer.url}/${batch.id}-response.tar.gz?AWSAccessKeyId=AKIAFAKEMAILCHIMPBATCH&Expires=${expires}&Signature=${encodeURIComponent(signature(batch.id, expires))}`
        : "",
      _links: links(batch.id)
    }
  }

  const finish = (batch: Batch) => {
    batch.completedAt ??= now()
    if (batch.archive !== null) return
    const files: Array<{ name: string; data: Buffer }> = []
    for (let i = 0; i < batch.results.length; i += resultsPerFile)
      files.push({
        name: `${randomBytes(5).toString("hex")}.json`,
        data: Buffer.from(JSON.stringify(batch.results.slice(i, i + resultsPerFile)))
      })
    batch.archive = tarGz(files, Math.floor(batch.completedAt / 1000))
  }

  const start = (accountId: string, text: string): Reply => {
    let request: unknown
    try {
      request = JSON.parse(text)
    } catch {
      return jsonParseError()
    }
    const operations = (request as { operations?: unknown } | null)?.operations
    if (!Array.isArray(operations))
      return unvalidated([{ field: "operations", message: "Schema describes array, NULL found instead" }])
    const errors: Array<{ field: string; message: string }> = []
    operations.forEach((op: Record<string, unknown>, i) => {
      const at = `operations.item:${i}`
      if (typeof op.method !== "string" || !methods.includes(op.method))
        errors.push({ field: `${at}.method`, message: `Value must be one of: ${methods.join(", ")}` })
      if (typeof op.path !== "string" || !op.path.startsWith("/"))
        errors.push({ field: `${at}.path`, message: "Schema describes string, NULL found instead" })
      if (op.body !== undefined && typeof op.body !== "string")
        errors.push({ field: `${at}.body`, message: `Schema describes string, ${typeof op.body} found instead` })
      if (op.operation_id !== undefined && typeof op.operation_id !== "string")
        errors.push({ field: `${at}.operation_id`, message: "Schema describes string" })
    })
    if (errors.length > 0) return unvalidated(errors)
    const results = (operations as Array<Record<string, unknown>>).map((op): BatchResult => {
      const url = new URL(`http://mailchimp.invalid/3.0${String(op.path)}`)
      if (typeof op.params === "object" && op.params !== null)
        for (const [k, v] of Object.entries(op.params)) url.searchParams.set(k, String(v))
      const answer =
        options.execute(accountId, String(op.method), url, typeof op.body === "string" ? op.body : "") ??
        problem(404, "Resource Not Found", "The requested resource could not be found.")
      return {
        status_code: answer.status,
        operation_id: typeof op.operation_id === "string" ? op.operation_id : null,
        response: answer.body
      }
    })
    const batch: Batch = {
      id: randomBytes(5).toString("hex"),
      accountId,
      submittedAt: now(),
      results,
      polls: 0,
      completedAt: null,
      archive: null
    }
    batches.set(batch.id, batch)
    return json(200, resource(batch, "pending"))
  }

  const status = (accountId: string, id: string): Reply => {
    const batch = batches.get(id)
    if (batch === undefined || batch.accountId !== accountId)
      return problem(404, "Resource Not Found", "The requested resource could not be found.")
    batch.polls += 1
    if (batch.polls < pollsToFinish) return json(200, resource(batch, "started"))
    finish(batch)
    return json(200, resource(batch, "finished"))
  }

  /** Answers `/3.0/batches` and `/3.0/batches/{id}`; undefined for any other path. */
  const respond = (accountId: string, method: string, url: URL, body: string): Reply | undefined => {
    const [version, root, id, ...rest] = url.pathname.split("/").filter((s) => s !== "")
    if (version !== "3.0" || root !== "batches" || rest.length > 0) return undefined
    if (id === undefined && method === "POST") return start(accountId, body)
    if (id !== undefined && method === "GET") return status(accountId, id)
    return problem(
      405,
      "Method Not Allowed",
      "The requested method and resource are not compatible. See the Allow header for this resource's available methods."
    )
  }

  return {
    respond,
    close: archiveServer.close,
    controls: {
      /** The account's batches, in submission order, as their last status read left them. */
      batches: (accountId: string): ReadonlyArray<FakeBatch> =>
        [...batches.values()]
          .filter((b) => b.accountId === accountId)
          .map((b) => ({
            id: b.id,
            accountId: b.accountId,
            operations: b.results.length,
            errored: errored(b),
            status: b.archive !== null ? "finished" : b.polls > 0 ? "started" : "pending"
          })),
      /** How many status reads a batch answers before `finished` (the last of them answers it); at least 1. */
      setBatchPolls: (polls: number) => {
        pollsToFinish = Math.max(1, polls)
      },
      /** Requests the archive server had (downloads of results), answered or refused. */
      archiveDownloads: () => archiveDownloads,
      /** The next `times` archive downloads answer `status` (S3's InternalError document). */
      injectArchiveFailure: (status: number, times = 1) => {
        archiveFailure = { status, remaining: times }
      }
    }
  }
}
