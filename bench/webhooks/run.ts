/**
 * Webhook ingestion benchmark (a script, not a test): signed Stripe events of ~2 KB with unique ids and 5 %
 * duplicates, posted over 50 keep-alive connections to the service started as `npm start` would (API and worker
 * in separate processes), on the real PostgreSQL and Redis, loopback only. Bounded by BENCH_EVENTS and
 * BENCH_SECONDS. Prints requests/s, p50, p99, and checks that rows stored = unique events acknowledged.
 *
 *   npx node bench/webhooks/run.ts
 *
 * Env: BENCH_EVENTS (60000), BENCH_SECONDS (30), BENCH_CONCURRENCY (50), BENCH_WARMUP (2000),
 * PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test), REDIS_URL (redis://127.0.0.1:6379/0), BENCH_WORKER (1).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createHmac, randomUUID } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { Agent, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"

const env = process.env
const total = Number(env.BENCH_EVENTS ?? 60_000)
const seconds = Number(env.BENCH_SECONDS ?? 30)
const concurrency = Number(env.BENCH_CONCURRENCY ?? 50)
const warmup = Number(env.BENCH_WARMUP ?? 2_000)
const adminUrl = env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379/0"
const withWorker = (env.BENCH_WORKER ?? "1") !== "0"
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
  execFileSync("psql", [url, "-Atqc", statement], { encoding: "utf8" }).trim()

const children: Array<ChildProcess> = []
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
  return child
}
let stopping = false

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
const bodies: Array<{ readonly id: string; readonly body: string; readonly header: string }> = []
const makeEvent = (id: string) => {
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
  const out: Array<{ readonly id: string; readonly body: string; readonly header: string }> = []
  for (let i = 0; i < count; i++) {
    if (i % 20 === 19 && out.length > 0) out.push(out[Math.floor(Math.random() * out.length)]!)
    else out.push(makeEvent(`evt_${prefix}${i.toString(36).padStart(8, "0")}${randomUUID().slice(0, 8)}`))
  }
  return out
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
const post = (event: { readonly body: string; readonly header: string }): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port,
        method: "POST",
        path: env.BENCH_PATH ?? "/api/v1/integrations/webhooks/stripe",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(event.body),
          "stripe-signature": event.header
        }
      },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }
    )
    req.on("error", reject)
    req.end(event.body)
  })

const run = async (events: typeof bodies, deadline: number) => {
  const latencies = new Float64Array(events.length)
  const acked = new Set<string>()
  const statuses = new Map<number, number>()
  let next = 0
  let done = 0
  const started = performance.now()
  const loop = async () => {
    while (next < events.length && performance.now() < deadline) {
      const i = next++
      const event = events[i]!
      const t0 = performance.now()
      const status = await post(event).catch(() => 0)
      latencies[done++] = performance.now() - t0
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      if (status === 200) acked.add(event.id)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  const elapsed = (performance.now() - started) / 1000
  const sorted = Array.from(latencies.subarray(0, done)).sort((a, b) => a - b)
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
  return { done, elapsed, acked, statuses, p50: pct(50), p99: pct(99), max: sorted[sorted.length - 1] ?? 0 }
}

const main = async () => {
  psql(adminUrl, `CREATE DATABASE ${database}`)
  try {
    start("api")
    if (withWorker) start("worker")
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/monitoring/health/live`)).status === 200,
      "the service"
    )
    psql(
      dbUrl,
      `INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status, account_id)
       VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'stripe', 'api_key', 'connected', '${account}')`
    )
    const warm = prepare(warmup, "warm")
    await run(warm, performance.now() + 30_000)
    const events = prepare(total, "b")
    bodies.push(...events)
    const result = await run(events, performance.now() + seconds * 1000)
    const stored = Number(psql(dbUrl, `SELECT count(*) FROM webhook_events WHERE event_id LIKE 'evt_b%'`))
    const rps = result.done / result.elapsed
    console.log(
      [
        `requests      ${result.done} in ${result.elapsed.toFixed(2)} s (${concurrency} connections, 2 KB bodies, 5 % duplicates)`,
        `throughput    ${rps.toFixed(0)} req/s`,
        `latency       p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   max ${result.max.toFixed(2)} ms`,
        `statuses      ${[...result.statuses].map(([s, n]) => `${s}:${n}`).join(" ")}`,
        `check         rows stored ${stored} = unique events acknowledged ${result.acked.size}: ${stored === result.acked.size ? "OK" : "MISMATCH"}`
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
    if (stored !== result.acked.size) process.exitCode = 1
  } finally {
    stopping = true
    for (const child of children) child.kill("SIGTERM")
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.once("exit", r) : r(null)))))
    agent.destroy()
    if (env.BENCH_KEEP_DB !== "1") psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  }
}

await main()
