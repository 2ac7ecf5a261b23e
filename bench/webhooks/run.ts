/**
 * Webhook ingestion benchmark (a script, not a test): signed Stripe events of ~2 KB with unique ids and 5 %
 * duplicates, posted over 50 keep-alive connections to the service started as `npm start` would (API and worker
 * in separate processes), on the real PostgreSQL and Redis, loopback only. Bounded by BENCH_EVENTS and
 * BENCH_SECONDS. Prints requests/s, p50, p99, and checks that rows stored = unique events acknowledged and that
 * every acknowledged event is stored.
 *
 * The client must not compete with the service for the two cores: every request is signed and serialized to its
 * raw HTTP/1.1 bytes beforehand, and each connection is a plain socket with one request outstanding (as a
 * keep-alive client does), reading only the status line and Content-Length of the answer.
 *
 *   npx node bench/webhooks/run.ts
 *
 * Env: BENCH_EVENTS (60000), BENCH_SECONDS (30), BENCH_CONCURRENCY (50), BENCH_WARMUP (5000),
 * PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test), REDIS_URL (redis://127.0.0.1:6379/0),
 * BENCH_WORKER (1: a worker process; 0: none; "idle": at the lowest CPU priority), BENCH_API_NODE_ARGS,
 * BENCH_PATH; DATABASE_POOL_SIZE and WEBHOOK_* are passed to the service (the per-account WEBHOOK_RATE_LIMIT is
 * lifted unless set: all events are for one account).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createHmac, randomUUID } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { connect } from "node:net"
import { cpus, setPriority, tmpdir } from "node:os"
import { join } from "node:path"

const env = process.env
const total = Number(env.BENCH_EVENTS ?? 60_000)
const seconds = Number(env.BENCH_SECONDS ?? 30)
const concurrency = Number(env.BENCH_CONCURRENCY ?? 50)
const warmup = Number(env.BENCH_WARMUP ?? 5_000)
const adminUrl = env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379/0"
const workerMode = env.BENCH_WORKER ?? "1"
const withWorker = workerMode !== "0"
const apiProcesses = Number(env.BENCH_API_PROCESSES ?? 1)
const port = 18_000 + Math.floor(Math.random() * 1_000)
const secret = "whsec_bench_secret"
const account = "acct_bench"
const database = `bench_webhooks_${Date.now().toString(36)}`
const dbUrl = (() => {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
})()

const psql = (url: string, statement: string): string =>
  execFileSync("psql", [url, "-Atqc", statement], { encoding: "utf8", maxBuffer: 1 << 30 }).trim()

const children: Array<ChildProcess> = []
const roles: Array<string> = []
const outputs = new Map<ChildProcess, () => string>()
const startedUp = (child: ChildProcess) => /listening/i.test(outputs.get(child)?.() ?? "")
const start = (role: string): ChildProcess => {
  const nodeArgs = role === "api" && env.BENCH_API_NODE_ARGS ? env.BENCH_API_NODE_ARGS.split(" ") : []
  const child = spawn(process.execPath, [...nodeArgs, "adapters/main/node.ts"], {
    env: {
      PATH: env.PATH,
      HOME: env.HOME,
      ROLE: role,
      PORT: String(port),
      DATABASE_URL: dbUrl,
      DATABASE_POOL_SIZE: env.DATABASE_POOL_SIZE ?? "8",
      REDIS_URL: redisUrl,
      REDIS_QUEUE_PREFIX: `bench:${database}:`,
      STRIPE_WEBHOOK_SECRET: secret,
      JWT_SECRET: "bench-jwt-secret",
      DATA_DIR: mkdtempSync(join(tmpdir(), "bench-webhooks-")),
      HTTP_REQUEST_LOG: "false",
      HTTP_REUSE_PORT: String(apiProcesses > 1),
      // Every event is for one account, far faster than any provider sends one: its limit would be measured instead.
      WEBHOOK_RATE_LIMIT: "100000000",
      ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("WEBHOOK_")))
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (d) => {
    output += d
  })
  child.stderr?.on("data", (d) => {
    output += d
  })
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`${role} exited (${code ?? signal}):\n${output.slice(-3000)}`)
  })
  children.push(child)
  roles.push(role)
  outputs.set(child, () => output)
  // The lowest CPU priority: the worker then only uses what the API leaves of the cores.
  if (role === "worker" && workerMode === "idle" && child.pid !== undefined) setPriority(child.pid, 19)
  return child
}
let stopping = false

// CPU seconds so far of a process (utime + stime, in clock ticks of 10 ms) and of the whole machine (busy, total).
const processCpu = (pid: number | undefined): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const machineCpu = (): { busy: number; total: number } => {
  const ticks = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: (total - ticks[3]! - ticks[4]!) / 100, total: total / 100 }
}
// PostgreSQL: the backends serving the benchmark's database (the service's pools), not other databases' work.
let backends: Array<number> = []
// Every process of a name (redis-server), whoever started it: the machine is shared.
const cpuOfCommand = (command: string): number =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .reduce((sum, pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === command ? sum + processCpu(Number(pid)) : sum
      } catch {
        return sum
      }
    }, 0)
const cpuSnapshot = () => {
  const own = process.cpuUsage()
  return {
    machine: machineCpu(),
    processes: children.map((c) => processCpu(c.pid)),
    postgres: backends.reduce((sum, pid) => sum + processCpu(pid), 0),
    redis: cpuOfCommand("redis-server"),
    client: (own.user + own.system) / 1e6
  }
}

const waitFor = async (check: () => Promise<boolean>, what: string, timeoutMs = 60_000) => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

// ~2 KB Stripe event bodies; every 20th request repeats an earlier id (5 % duplicates).
const filler = "x".repeat(1_650)
interface Event {
  readonly id: string
  readonly body: string
  readonly header: string
}
const makeEvent = (id: string): Event => {
  const body = JSON.stringify({
    id,
    object: "event",
    api_version: "2024-06-20",
    account,
    created: Math.floor(Date.now() / 1000),
    type: "customer.updated",
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: randomUUID() },
    data: { object: { id: `cus_${id.slice(4, 18)}`, object: "customer", description: filler } }
  })
  const t = Math.floor(Date.now() / 1000)
  const signature = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")
  return { id, body, header: `t=${t},v1=${signature}` }
}
const prepare = (count: number, prefix: string) => {
  const out: Array<Event> = []
  for (let i = 0; i < count; i++) {
    if (i % 20 === 19 && out.length > 0) out.push(out[Math.floor(Math.random() * out.length)]!)
    else out.push(makeEvent(`evt_${prefix}${i.toString(36).padStart(8, "0")}${randomUUID().slice(0, 8)}`))
  }
  return out
}

// One raw HTTP/1.1 request per event, built before the clock starts.
const path = env.BENCH_PATH ?? "/api/v1/integrations/webhooks/stripe"
const requestBytes = (event: Event): Buffer => {
  const body = Buffer.from(event.body)
  const head =
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nStripe-Signature: ${event.header}\r\n\r\n`
  return Buffer.concat([Buffer.from(head), body])
}

const headEnd = Buffer.from("\r\n\r\n")
const contentLength = /\r\ncontent-length:\s*(\d+)/i

/**
 * One keep-alive connection: writes a request, waits for its whole answer (status line, headers, Content-Length
 * bytes of body), then calls `done(status)`. A dropped socket answers 0 for the request in flight.
 */
const connection = () =>
  new Promise<{ send: (bytes: Buffer, done: (status: number) => void) => void; close: () => void }>(
    (resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, noDelay: true })
      let buffered: Buffer = Buffer.alloc(0)
      let waiting: ((status: number) => void) | undefined
      const answer = (status: number) => {
        const done = waiting
        waiting = undefined
        done?.(status)
      }
      socket.on("data", (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
        const at = buffered.indexOf(headEnd)
        if (at < 0) return
        const head = buffered.toString("latin1", 0, at)
        const length = Number(contentLength.exec(head)?.[1] ?? 0)
        if (buffered.length < at + 4 + length) return
        buffered = buffered.subarray(at + 4 + length)
        answer(Number(head.slice(9, 12)))
      })
      socket.on("error", () => answer(0))
      socket.on("close", () => answer(0))
      socket.once("connect", () =>
        resolve({
          send: (bytes, done) => {
            waiting = done
            socket.write(bytes)
          },
          close: () => socket.destroy()
        })
      )
      socket.once("error", reject)
    }
  )

const run = async (events: ReadonlyArray<Event>, deadline: number) => {
  const requests = events.map(requestBytes)
  const latencies = new Float64Array(events.length)
  const acked = new Set<string>()
  const statuses = new Map<number, number>()
  const sockets = await Promise.all(Array.from({ length: concurrency }, connection))
  let next = 0
  let done = 0
  const started = performance.now()
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((finish) => {
          const step = () => {
            if (next >= events.length || performance.now() >= deadline) return finish()
            const i = next++
            const t0 = performance.now()
            socket.send(requests[i]!, (status) => {
              latencies[done++] = performance.now() - t0
              statuses.set(status, (statuses.get(status) ?? 0) + 1)
              if (status === 200) acked.add(events[i]!.id)
              if (status === 0) return finish()
              step()
            })
          }
          step()
        })
    )
  )
  const elapsed = (performance.now() - started) / 1000
  for (const socket of sockets) socket.close()
  const sorted = latencies.subarray(0, done).sort()
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
  return { done, elapsed, acked, statuses, p50: pct(50), p99: pct(99), max: sorted[sorted.length - 1] ?? 0 }
}

const main = async () => {
  psql(adminUrl, `CREATE DATABASE ${database}`)
  try {
    const live = async () => (await fetch(`http://127.0.0.1:${port}/monitoring/health/live`)).status === 200
    start("api")
    if (withWorker) start("worker")
    await waitFor(live, "the service")
    // More API processes on the same port once the first one migrated the database.
    for (let i = 1; i < apiProcesses; i++) {
      const child = start("api")
      await waitFor(async () => child.exitCode === null && startedUp(child), "another API process")
    }
    psql(
      dbUrl,
      `INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
       VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'stripe', 'api_key', 'connected', '${account}')`
    )
    const warm = prepare(warmup, "warm")
    await run(warm, performance.now() + 30_000)
    const events = prepare(total, "b")
    backends = psql(adminUrl, `SELECT pid FROM pg_stat_activity WHERE datname = '${database}'`)
      .split("\n")
      .filter(Boolean)
      .map(Number)
    const cpuBefore = cpuSnapshot()
    const result = await run(events, performance.now() + seconds * 1000)
    const cpuAfter = cpuSnapshot()
    const cores = (seconds: number) => (seconds / result.elapsed).toFixed(2)
    const machineBusy = cpuAfter.machine.busy - cpuBefore.machine.busy
    // Per request too: unlike throughput, it holds when something else runs on the machine during the benchmark.
    const used = (seconds: number) => `${cores(seconds)} (${((seconds * 1000) / result.done).toFixed(3)} ms/req)`
    const serviceCpu = [
      ...roles.map((role, i) => `${role} ${used(cpuAfter.processes[i]! - cpuBefore.processes[i]!)}`),
      `postgres (${backends.length} backends) ${used(cpuAfter.postgres - cpuBefore.postgres)}`,
      `redis ${used(cpuAfter.redis - cpuBefore.redis)}`,
      `client ${used(cpuAfter.client - cpuBefore.client)}`
    ]
    const storedIds = new Set(
      psql(dbUrl, `SELECT event_id FROM webhook_events WHERE event_id LIKE 'evt_b%'`).split("\n").filter(Boolean)
    )
    const stored = storedIds.size
    const lost = [...result.acked].filter((id) => !storedIds.has(id)).length
    const ok = stored === result.acked.size && lost === 0
    const rps = result.done / result.elapsed
    console.log(
      [
        `layout        api + ${withWorker ? `worker${workerMode === "idle" ? " (nice 19)" : ""}` : "no worker"}`,
        `requests      ${result.done} in ${result.elapsed.toFixed(2)} s (${concurrency} connections, 2 KB bodies, 5 % duplicates)`,
        `throughput    ${rps.toFixed(0)} req/s`,
        `latency       p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   max ${result.max.toFixed(2)} ms`,
        `cpu (cores)   ${serviceCpu.join("  ")}`,
        `machine       busy ${cores(machineBusy)} of ${cpus().length} cores (other work on the machine included)`,
        `statuses      ${[...result.statuses].map(([s, n]) => `${s}:${n}`).join(" ")}`,
        `check         rows stored ${stored} = unique events acknowledged ${result.acked.size}, acknowledged but not stored ${lost}: ${ok ? "OK" : "MISMATCH"}`
      ].join("\n")
    )
    if (withWorker) {
      const drainStart = Date.now()
      await waitFor(
        async () =>
          Number(psql(dbUrl, `SELECT count(*) FROM webhook_events WHERE status NOT IN ('processed', 'ignored')`)) === 0,
        "the worker to drain",
        120_000
      ).then(
        () =>
          console.log(
            `worker        every stored event applied ${((Date.now() - drainStart) / 1000).toFixed(1)} s after the load ended`
          ),
        () => console.log("worker        did not drain within 120 s")
      )
    }
    if (!ok) process.exitCode = 1
  } finally {
    stopping = true
    for (const child of children) child.kill("SIGTERM")
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once("exit", r) : r(null)))))
    if (env.BENCH_KEEP_DB !== "1") {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      // The queue's keys go with the database: Redis is shared with everything else on the machine.
      execFileSync("redis-cli", [
        "-u",
        redisUrl,
        "--no-auth-warning",
        "eval",
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0",
        "0",
        `bench:${database}:*`
      ])
    }
  }
}

await main()
