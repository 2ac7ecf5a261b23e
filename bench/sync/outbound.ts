/**
 * Outbound sync benchmark (a script, not a test). The service runs as `npm start` would (ROLE=all) on a fresh
 * database of the real PostgreSQL; the Stripe and Mailchimp fakes run in a second process (outboundFakes.ts).
 *
 *   stripe     BENCH_OUTBOUND_RECORDS (10,000) platform customers pushed to Stripe, whose fake answers 429 above
 *              BENCH_STRIPE_LIMIT (500) requests a second; the service's Stripe budget is set to the same limit.
 *              Measured: writes per second over the push against the limit (target ≥ 95 %) and the 429s (target 0).
 *   mailchimp  the same number of contacts to a Mailchimp audience through /batches. Measured: the API calls the
 *              push made (target ≤ 20 for 10,000 members).
 * Each from the platform's `PUT /platform/:entity` batches until the outbound job completed; CPU per record of the
 * service, the fakes and the PostgreSQL backends from /proc.
 *
 *   npm run bench:sync:outbound
 *
 * Env: BENCH_PROFILE (0; 1: the service under --cpu-prof, its CPU split into components), BENCH_OUTBOUND_RECORDS (10000), BENCH_STRIPE_LIMIT (500), BENCH_STRIPE_CONCURRENCY (32),
 * PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  apiClient,
  expectStatus,
  forkFakes,
  freshDatabase,
  load,
  makeProcesses,
  pg,
  processCpu,
  untilListening
} from "./harness.ts"
import { type Profile, splitProfile } from "./profile.ts"

const env = process.env
const total = Number(env.BENCH_OUTBOUND_RECORDS ?? 10_000)
const stripeLimit = Number(env.BENCH_STRIPE_LIMIT ?? 500)
const adminUrl = env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const port = 20_000 + Math.floor(Math.random() * 1_000)
const publicBase = `http://127.0.0.1:${port}`
const base = `${publicBase}/api/v1/integrations`
const jwtSecret = "bench-outbound-jwt-secret-0123456789abcdef"
const database = `bench_outbound_${Date.now().toString(36)}`
const tenantId = "b1000000-0000-4000-8000-000000000001"
const venues = { stripe: "b1000000-1111-4000-8000-000000000001", mailchimp: "b1000000-1111-4000-8000-000000000002" }

const processes = makeProcesses()
interface FakesReady {
  readonly stripeUrl: string
  readonly mailchimp: { url: string; clientId: string; clientSecret: string }
}
const {
  child: fakes,
  ready,
  fake
} = await forkFakes<FakesReady>(new URL("./outboundFakes.ts", import.meta.url), processes.watch)
const { url: dbUrl, drop: dropDatabase } = await freshDatabase(adminUrl, database)
const db = new pg.Pool({ connectionString: dbUrl, max: 2 })

const profiling = (env.BENCH_PROFILE ?? "0") !== "0"
const profileDir = mkdtempSync(join(tmpdir(), "bench-outbound-prof-"))
const service = spawn(
  process.execPath,
  [...(profiling ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), "adapters/main/node.ts"],
  {
    env: {
      PATH: env.PATH,
      HOME: env.HOME,
      ROLE: "all",
      PORT: String(port),
      DATABASE_URL: dbUrl,
      JWT_SECRET: jwtSecret,
      DATA_DIR: mkdtempSync(join(tmpdir(), "bench-outbound-")),
      HTTP_REQUEST_LOG: "false",
      PUBLIC_BASE_URL: publicBase,
      STRIPE_API_BASE_URL: ready.stripeUrl,
      MAILCHIMP_CLIENT_ID: ready.mailchimp.clientId,
      MAILCHIMP_CLIENT_SECRET: ready.mailchimp.clientSecret,
      MAILCHIMP_OAUTH_BASE_URL: ready.mailchimp.url,
      MAILCHIMP_BATCH_POLL_INTERVAL: "200 millis",
      SYNC_SCHEDULER: "false",
      SYNC_OUTBOUND_DEBOUNCE: "1 second",
      SYNC_BUDGET_STRIPE_LIMIT: String(stripeLimit),
      SYNC_BUDGET_STRIPE_WINDOW: "1 second",
      SYNC_BUDGET_STRIPE_CONCURRENCY: env.BENCH_STRIPE_CONCURRENCY ?? "32"
    },
    stdio: ["ignore", "pipe", "pipe"]
  }
)
const serviceOutput = processes.watch("service", service)
const api = await apiClient(base, jwtSecret, tenantId)

const cleanUp = async () => {
  processes.stopping()
  const exited = new Promise((resolve) => service.once("exit", resolve))
  service.kill("SIGTERM")
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
  fakes.disconnect()
  await db.end()
  await dropDatabase()
}

const backendsCpu = async () => {
  const rows = (
    await db.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database])
  ).rows
  return new Map(rows.map((r) => [r.pid as number, processCpu(r.pid)]))
}
const snapshot = async () => ({
  at: Date.now(),
  micros: Number(process.hrtime.bigint() / 1000n),
  service: processCpu(service.pid),
  fakes: processCpu(fakes.pid),
  backends: await backendsCpu()
})
type Snapshot = Awaited<ReturnType<typeof snapshot>>
const cpuPerRecord = (a: Snapshot, b: Snapshot, records: number) => {
  let postgres = 0
  for (const [pid, cpu] of b.backends) postgres += cpu - (a.backends.get(pid) ?? 0)
  const us = (seconds: number) => Math.round((seconds * 1e6) / records)
  return { service: us(b.service - a.service), fakes: us(b.fakes - a.fakes), postgres: us(postgres) }
}

/** PUTs the records in batches of 1,000 and waits for the venue's outbound job to complete. */
const push = async (venueId: string, entityType: string, records: ReadonlyArray<unknown>) => {
  for (let i = 0; i < records.length; i += 1000) {
    const reply = await api("PUT", `/platform/${entityType}`, { venueId, records: records.slice(i, i + 1000) })
    expectStatus(reply, [200], `PUT ${entityType}`)
  }
  while (true) {
    const job = (
      await db.query(
        `SELECT status, created, updated, unchanged, failed, last_error,
           extract(epoch FROM finished_at - started_at)::float8 AS engine_seconds
         FROM sync_jobs WHERE venue_id = $1 AND direction = 'outbound' ORDER BY created_at DESC LIMIT 1`,
        [venueId]
      )
    ).rows[0]
    const waiting = (
      await db.query(
        `SELECT count(*)::int AS n FROM sync_jobs WHERE venue_id = $1 AND status IN ('queued', 'running')`,
        [venueId]
      )
    ).rows[0].n
    if (job !== undefined && waiting === 0) {
      if (job.status !== "completed") throw new Error(`outbound job ended ${JSON.stringify(job)}`)
      return job as { created: number; failed: number; engine_seconds: number }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

try {
  await untilListening(serviceOutput)

  // ---- Stripe: one call per customer, at the account's budget ----
  const stripeKey = "sk_test_benchOutbound0123456789abcd"
  const { accountId } = await fake<{ accountId: string }>("addStripeKey", { key: stripeKey })
  await fake("setStripeRateLimit", { accountId, limit: stripeLimit, windowMs: 1_000 })
  expectStatus(await api("POST", "/connect/stripe", { venueId: venues.stripe, apiKey: stripeKey }), [201], "connect")
  const customers = Array.from({ length: total }, (_, i) => ({
    id: `bench-buyer-${i}`,
    version: 1,
    data: { email: `buyer${i}@bench.example`, givenName: `Given${i}`, familyName: `Family${i}` }
  }))
  const stripeStart = await snapshot()
  const stripeJob = await push(venues.stripe, "customer", customers)
  const stripeEnd = await snapshot()
  const writes = await fake<{ count: number; rateLimited: number; first: number; last: number; arrivals: number[] }>(
    "stripeWrites",
    { accountId, since: stripeStart.at }
  )
  // The rate over the push itself: from the first write to the last (the debounce and the PUTs are before it).
  const pushSeconds = (writes.last - writes.first) / 1000
  const rate = (writes.count - writes.rateLimited - 1) / pushSeconds
  let busiest = 0
  for (let i = 0, j = 0; i < writes.arrivals.length; i++) {
    while (writes.arrivals[i]! - writes.arrivals[j]! >= 1000) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  const stripeCpu = cpuPerRecord(stripeStart, stripeEnd, total)
  const created = await fake<number>("stripeCreations", { accountId })
  console.error(
    `stripe: ${total} customers, ${created} created, ${writes.count} writes (${writes.rateLimited} answered 429) in ` +
      `${pushSeconds.toFixed(2)} s = ${rate.toFixed(1)} writes/s = ${((rate / stripeLimit) * 100).toFixed(1)} % of ` +
      `${stripeLimit}/s (busiest second ${busiest}); end to end ${((stripeEnd.at - stripeStart.at) / 1000).toFixed(2)} s; ` +
      `CPU µs/record service ${stripeCpu.service}, fakes ${stripeCpu.fakes}, postgres ${stripeCpu.postgres}; load ${load()}`
  )

  // ---- Mailchimp: the same number of contacts through /batches ----
  await fake("setMailchimpBatchPolls", { polls: 2 })
  const authorize = await api("POST", "/connect/mailchimp", { venueId: venues.mailchimp })
  expectStatus(authorize, [200], "connect mailchimp")
  const consent = await fake<Record<string, string>>("consentMailchimp", { url: authorize.body.authorizationUrl })
  expectStatus(
    await api("GET", `/oauth/callback/mailchimp?${new URLSearchParams(consent)}`, undefined, "manual"),
    [200, 302, 303],
    "mailchimp callback"
  )
  const contacts = Array.from({ length: total }, (_, i) => ({
    id: `bench-contact-${i}`,
    version: 1,
    data: { email: `contact${i}@bench.example`, givenName: `Given${i}`, familyName: `Family${i}`, status: "subscribed" }
  }))
  const mailchimpStart = await snapshot()
  const mailchimpJob = await push(venues.mailchimp, "contact", contacts)
  const mailchimpEnd = await snapshot()
  const calls = await fake<ReadonlyArray<string>>("mailchimpRequests", { since: mailchimpStart.at })
  const members = await fake<number>("mailchimpMembers")
  const mailchimpCpu = cpuPerRecord(mailchimpStart, mailchimpEnd, total)
  console.error(
    `mailchimp: ${total} contacts, ${members} members, ${mailchimpJob.created} created by the job in ` +
      `${calls.length} API calls (${[...new Set(calls.map((p) => p.replace(/\/[0-9a-f]{10,}/g, "/{id}").split("?")[0]))].join(", ")}); ` +
      `end to end ${((mailchimpEnd.at - mailchimpStart.at) / 1000).toFixed(2)} s; ` +
      `CPU µs/record service ${mailchimpCpu.service}, fakes ${mailchimpCpu.fakes}, postgres ${mailchimpCpu.postgres}`
  )
  console.log(
    JSON.stringify(
      {
        stripe: {
          records: total,
          created,
          writes: writes.count,
          rateLimited: writes.rateLimited,
          writesPerSecond: rate,
          budgetUse: rate / stripeLimit,
          busiestSecond: busiest,
          failed: stripeJob.failed,
          cpuMicrosPerRecord: stripeCpu
        },
        mailchimp: {
          records: total,
          members,
          apiCalls: calls.length,
          failed: mailchimpJob.failed,
          cpuMicrosPerRecord: mailchimpCpu
        },
        load: load()
      },
      null,
      2
    )
  )
  await cleanUp()
  if (profiling) {
    // The service writes its profile as it exits; each push's samples split into components.
    const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))
    if (file === undefined) throw new Error("the service wrote no CPU profile")
    const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as Profile
    for (const [name, window] of [
      ["stripe", [stripeStart.micros, stripeEnd.micros]],
      ["mailchimp", [mailchimpStart.micros, mailchimpEnd.micros]]
    ] as const)
      console.error(`${name} service CPU by component:`, JSON.stringify(splitProfile(profile, window), null, 2))
  }
} catch (error) {
  console.error(error)
  console.error(serviceOutput().slice(-3000))
  await cleanUp().catch(() => undefined)
  process.exit(1)
}
