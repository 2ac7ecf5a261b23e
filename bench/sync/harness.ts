/**
 * What the sync benchmarks share: the processes they start and watch, their CPU from /proc, a fresh database, the
 * fakes' process driven over IPC, and the service's HTTP API with a bench token.
 */
import { type ChildProcess, fork } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { loadavg } from "node:os"
import { Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"

/** The slice of node-postgres (installed for @effect/sql-pg, without types) the benchmarks use. */
export interface PgClient {
  readonly connect: () => Promise<unknown>
  readonly query: (text: string, values?: ReadonlyArray<unknown>) => Promise<{ rows: Array<any> }>
  readonly end: () => Promise<void>
}
export interface PgPoolClient extends Omit<PgClient, "connect" | "end"> {
  readonly release: () => void
}
export interface PgPool extends Omit<PgClient, "connect"> {
  readonly connect: () => Promise<PgPoolClient>
}
export const pg = createRequire(import.meta.url)("pg") as {
  readonly Client: new (options: { connectionString: string }) => PgClient
  readonly Pool: new (options: { connectionString: string; max: number }) => PgPool
}

export const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

/** A process's CPU seconds so far (utime + stime, clock ticks of 10 ms); 0 once it is gone. */
export const processCpu = (pid: number | undefined): number => {
  try {
    const fields = readProc(`/proc/${pid}/stat`).split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}
export const machineCpu = () => {
  const ticks = readProc("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  const all = ticks.reduce((a, b) => a + b, 0)
  return { busy: (all - ticks[3]! - ticks[4]!) / 100, total: all / 100 }
}
const readProc = (path: string) => readFileSync(path, "utf8")

/** Children whose unexpected exit ends the benchmark with their last output. */
export const makeProcesses = () => {
  let stopping = false
  const watch = (name: string, child: ChildProcess) => {
    let output = ""
    const keep = (d: unknown) => {
      output = (output + String(d)).slice(-20_000)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    child.on("exit", (code, signal) => {
      if (!stopping) {
        console.error(`${name} exited (${code ?? signal}):\n${output.slice(-3000)}`)
        process.exit(1)
      }
    })
    return () => output
  }
  return {
    watch,
    stopping: () => {
      stopping = true
    }
  }
}

/** A fakes module forked and driven over IPC: each `{ id, op, ...args }` answered `{ id, result }` or `{ id, error }`. */
export const forkFakes = async <Ready>(module: URL, watch: ReturnType<typeof makeProcesses>["watch"]) => {
  const child = fork(module, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] })
  watch("fakes", child)
  const ready = await new Promise<Ready>((resolve) => child.once("message", (m) => resolve(m as Ready)))
  let nextCall = 0
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  child.on("message", (m: any) => {
    const waiting = pending.get(m.id)
    if (waiting === undefined) return
    pending.delete(m.id)
    if (m.error !== undefined) waiting.reject(new Error(m.error))
    else waiting.resolve(m.result)
  })
  const fake = <A>(op: string, args: Record<string, unknown> = {}): Promise<A> =>
    new Promise((resolve, reject) => {
      const id = nextCall++
      pending.set(id, { resolve, reject })
      child.send({ id, op, ...args })
    })
  return { child, ready, fake }
}

/**
 * The fakes' side of `forkFakes`: answers each `{ id, op, ...args }` with `ops[op]`'s result, exits with its parent,
 * and reports ready with what the benchmark needs to know (the fakes' URLs).
 */
export const serveFakes = (
  ops: Record<string, (m: Record<string, any>) => unknown>,
  ready: Record<string, unknown>
) => {
  process.on("message", (m: { readonly id: number; readonly op: string } & Record<string, any>) => {
    Promise.resolve()
      .then(() => ops[m.op]!(m))
      .then(
        (result) => process.send!({ id: m.id, result }),
        (error: unknown) => process.send!({ id: m.id, error: String(error) })
      )
  })
  process.on("disconnect", () => process.exit(0))
  process.send!({ ready: true, ...ready })
}

/** A new database on the admin URL's server; `drop` removes it. */
export const freshDatabase = async (adminUrl: string, name: string) => {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const drop = async () => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  }
  return { url: url.toString(), drop }
}

/** Waits for the service's "Listening on" line. */
export const untilListening = async (output: () => string, timeoutMillis = 60_000) => {
  const until = Date.now() + timeoutMillis
  while (!/Listening on/.test(output())) {
    if (Date.now() > until) throw new Error(`the service did not start:\n${output().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

export interface Reply {
  readonly status: number
  readonly body: any
  readonly text: string
}

/** The integrations API as an admin of `tenantId`, with a token signed by the service's JWT secret. */
export const apiClient = async (base: string, jwtSecret: string, tenantId: string) => {
  const token = await signToken(Redacted.make(jwtSecret), { sub: "bench", tenantId, venueIds: [], role: "admin" })
  const api = async (
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    redirect: RequestRedirect = "follow",
    headers: Record<string, string> = {}
  ): Promise<Reply> => {
    const response = await fetch(`${base}${path}`, {
      method,
      redirect,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    let parsed: any = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: response.status, body: parsed, text }
  }
  return api
}

export const expectStatus = (reply: Reply, statuses: ReadonlyArray<number>, what: string) => {
  if (!statuses.includes(reply.status)) throw new Error(`${what}: ${reply.status} ${reply.text.slice(0, 500)}`)
}
