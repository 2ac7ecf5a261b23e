/**
 * Queue store benchmark (a script, not a test): Effect's `PersistedQueue.layerStoreRedis` (at its default 1 s poll and
 * at the service's 100 ms) and BullMQ, on the Redis of this machine. The README's comparison with the Redis Streams
 * store this replaced ran at commit 4afd7e0, where round.ts still had it (subject `ours`).
 * Rounds are interleaved (b, b', c, b, b', c, …) so that noise from the shared machine hits every store alike;
 * each measurement runs in a fresh process (round.ts) under a unique key prefix that is deleted afterwards. Bounded by
 * BENCH_ROUNDS and BENCH_SECONDS (no round starts after the budget; only complete rounds are reported). Prints, per
 * store, the median and the range (min–max) over the rounds.
 *
 *   npm run bench:queue
 *
 * Env: BENCH_ROUNDS (5), BENCH_SECONDS (600), BENCH_SUBJECTS (effect,effect-100ms,bullmq), REDIS_URL
 * (redis://127.0.0.1:6379), and for each round (see round.ts) BENCH_MESSAGES (2000), BENCH_WARMUP (500),
 * BENCH_OFFER_CONCURRENCY (50), BENCH_CONCURRENCY (8), BENCH_RATE (100), BENCH_LATENCY_SECONDS (5),
 * BENCH_IDLE_SECONDS (3).
 */
import { execFileSync } from "node:child_process"
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Redis as IORedis } from "ioredis"

const env = process.env
const rounds = Number(env.BENCH_ROUNDS ?? 5)
const budgetMs = Number(env.BENCH_SECONDS ?? 600) * 1_000
const subjects = (env.BENCH_SUBJECTS ?? "effect,effect-100ms,bullmq").split(",")
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379"
const runPrefix = `bench:queue:${Date.now().toString(36)}:`
const roundPath = fileURLToPath(new URL("./round.ts", import.meta.url))

const labels: Record<string, string> = {
  effect: "b. Effect layerStoreRedis (poll 1 s, its default)",
  "effect-100ms": "b'. Effect layerStoreRedis (poll 100 ms)",
  bullmq: "c. BullMQ (BZPOPMIN marker)"
}

interface Latency {
  readonly p50: number
  readonly p99: number
  readonly n: number
}
interface Result {
  readonly subject: string
  readonly offerRate: number
  readonly offerCpuUs: number
  readonly processRate: number
  readonly processCpuUs: number
  readonly worker: Latency
  readonly same: Latency
  readonly idleCommands: number
  readonly idleCpuMs: number
}

const measure = (subject: string, round: number): Result => {
  const output = execFileSync(process.execPath, [roundPath], {
    env: { ...env, BENCH_QUEUE_SUBJECT: subject, BENCH_QUEUE_PREFIX: `${runPrefix}${subject}:${round}:` },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 300_000
  })
  const line = output.trim().split("\n").at(-1) ?? ""
  return JSON.parse(line) as Result
}

const deleteKeys = async () => {
  const client = new IORedis(redisUrl)
  let cursor = "0"
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${runPrefix}*`, "COUNT", 1_000)
    cursor = next
    if (keys.length > 0) await client.del(...keys)
  } while (cursor !== "0")
  client.disconnect()
}

const results = new Map<string, Array<Result>>(subjects.map((s) => [s, []]))
const started = Date.now()
const loadBefore = loadavg()
let completed = 0
try {
  for (let round = 1; round <= rounds && Date.now() - started < budgetMs; round++) {
    for (const subject of subjects) {
      const result = measure(subject, round)
      results.get(subject)?.push(result)
      process.stderr.write(
        `round ${round} ${subject}: offer ${result.offerRate.toFixed(0)}/s ${result.offerCpuUs.toFixed(0)} µs CPU each, ` +
          `process ${result.processRate.toFixed(0)}/s ${result.processCpuUs.toFixed(0)} µs CPU each, ` +
          `API→worker p50 ${result.worker.p50.toFixed(1)} ms p99 ${result.worker.p99.toFixed(1)} ms, ` +
          `one process p50 ${result.same.p50.toFixed(1)} ms p99 ${result.same.p99.toFixed(1)} ms, ` +
          `idle ${result.idleCommands.toFixed(1)} cmd/s ${result.idleCpuMs.toFixed(1)} ms CPU/s\n`
      )
    }
    completed = round
  }
} finally {
  await deleteKeys()
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}
const figure = (xs: ReadonlyArray<number>, digits: number) => {
  const fmt = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: digits })
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`
}

const columns = [
  "store",
  "offer msg/s",
  "offer CPU µs/msg",
  "process msg/s",
  "process CPU µs/msg",
  "API→worker p50 ms",
  "API→worker p99 ms",
  "one process p50 ms",
  "one process p99 ms",
  "idle Redis cmd/s",
  "idle CPU ms/s"
]
const rows = subjects.map((subject) => {
  const rs = (results.get(subject) ?? []).slice(0, completed)
  const digits = (x: number) => (x < 10 ? 1 : 0)
  const ms = (xs: ReadonlyArray<number>) => figure(xs, digits(median(xs)))
  return [
    labels[subject] ?? subject,
    figure(
      rs.map((r) => r.offerRate),
      0
    ),
    figure(
      rs.map((r) => r.offerCpuUs),
      0
    ),
    figure(
      rs.map((r) => r.processRate),
      0
    ),
    figure(
      rs.map((r) => r.processCpuUs),
      0
    ),
    ms(rs.map((r) => r.worker.p50)),
    ms(rs.map((r) => r.worker.p99)),
    ms(rs.map((r) => r.same.p50)),
    ms(rs.map((r) => r.same.p99)),
    ms(rs.map((r) => r.idleCommands)),
    ms(rs.map((r) => r.idleCpuMs))
  ]
})
const fmtLoad = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(" ")
process.stdout.write(
  `\n${completed} interleaved rounds in ${((Date.now() - started) / 1_000).toFixed(0)} s; median (min–max); ` +
    `load average ${fmtLoad(loadBefore)} before, ${fmtLoad(loadavg())} after\n\n` +
    `| ${columns.join(" | ")} |\n| ${columns.map(() => "---").join(" | ")} |\n` +
    rows.map((row) => `| ${row.join(" | ")} |`).join("\n") +
    "\n"
)
