/**
 * Inbound sync benchmark (a script, not a test). The service is started as `npm start` would (ROLE=all: API and sync
 * worker in one process) on a fresh database of the real PostgreSQL; the Stripe and QuickBooks fakes run in a second
 * process (bench/sync/fakes.ts), so CPU is counted per process. Budgets are lifted (the fakes are far faster than any
 * provider allows): the engine is measured, not the budget.
 *
 * For each provider, BENCH_RECORDS customers (100,000) go through the real engine — provider SDK/fetch page, the
 * compiled default mapping, one fenced transaction per page into `synced_records` — in three phases:
 *   full        every record new (Stripe pages of 100, QuickBooks pages of 1,000)
 *   unchanged   a second full sync, nothing changed: every record read, hashed, compared, none rewritten
 *   incremental BENCH_CHANGED_PERCENT (1 %) changed at the fake, read through Stripe events / QuickBooks CDC
 * End to end is from `POST …/sync` until the job row is completed. In the same run, a raw batched upsert of the same
 * rows (1,000 a statement, `jsonb_to_recordset`, the same columns, hash and conflict rule) into the same table is the
 * reference: first as inserts, then again unchanged.
 *
 * CPU per record comes from /proc for the service, the fakes and the PostgreSQL backends of the benchmark's database;
 * with BENCH_PROFILE=1 (the default) the service runs under --cpu-prof and its samples of each phase are split into
 * components (provider SDK and HTTP client, adapter parsing, mapping, SQL adapter and driver, engine, Effect
 * runtime, GC). The profiler costs the service a few percent; BENCH_PROFILE=0 measures without it.
 *
 *   npx node bench/sync/run.ts
 *
 * Env: BENCH_RECORDS (100000), BENCH_CHANGED_PERCENT (1), BENCH_PROVIDERS (stripe,quickbooks), BENCH_PROFILE (1),
 * PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/test); REDIS_URL, DATABASE_POOL_SIZE and SYNC_* are passed to
 * the service (without REDIS_URL: the SQL queue store and in-memory budgets, the embedded default's way).
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { sidesOf } from "../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import {
  apiClient,
  expectStatus,
  forkFakes,
  freshDatabase,
  load,
  machineCpu,
  makeProcesses,
  type PgPoolClient,
  pg,
  processCpu,
  untilListening
} from "./harness.ts"
import { type Profile, splitProfile } from "./profile.ts"

const env = process.env
const total = Number(env.BENCH_RECORDS ?? 100_000)
const changed = Math.max(1, Math.round((total * Number(env.BENCH_CHANGED_PERCENT ?? 1)) / 100))
const providers = (env.BENCH_PROVIDERS ?? "stripe,quickbooks").split(",") as Array<"stripe" | "quickbooks">
const profiling = (env.BENCH_PROFILE ?? "1") !== "0"
const adminUrl = env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const port = 19_000 + Math.floor(Math.random() * 1_000)
const base = `http://127.0.0.1:${port}/api/v1/integrations`
const jwtSecret = "bench-sync-jwt-secret-0123456789abcdef"
const database = `bench_sync_${Date.now().toString(36)}`
const tenantId = "b0000000-0000-4000-8000-000000000001"
const venues = {
  stripe: "b0000000-1111-4000-8000-000000000001",
  quickbooks: "b0000000-1111-4000-8000-000000000002",
  reference: "b0000000-1111-4000-8000-000000000003"
}
const loadAtStart = loadavg()
  .map((l) => l.toFixed(2))
  .join(" ")
const profileDir = mkdtempSync(join(tmpdir(), "bench-sync-prof-"))
const nowMicros = () => Number(process.hrtime.bigint() / 1000n)
// The fakes, driven over IPC.
const processes = makeProcesses()
interface FakesReady {
  readonly stripeUrl: string
  readonly quickbooks: { url: string; clientId: string; clientSecret: string; realmId: string }
}
const {
  child: fakes,
  ready,
  fake
} = await forkFakes<FakesReady>(new URL("./fakes.ts", import.meta.url), processes.watch)

// A fresh database; the service migrates it on start.
const { url: dbUrl, drop: dropDatabase } = await freshDatabase(adminUrl, database)
const db = new pg.Pool({ connectionString: dbUrl, max: 2 })

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
      DATA_DIR: mkdtempSync(join(tmpdir(), "bench-sync-")),
      HTTP_REQUEST_LOG: "false",
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      STRIPE_API_BASE_URL: ready.stripeUrl,
      QUICKBOOKS_BASE_URL: ready.quickbooks.url,
      QUICKBOOKS_OAUTH_BASE_URL: ready.quickbooks.url,
      QUICKBOOKS_CLIENT_ID: ready.quickbooks.clientId,
      QUICKBOOKS_CLIENT_SECRET: ready.quickbooks.clientSecret,
      // Jobs are started by the benchmark only; budgets far above what the fakes can serve.
      SYNC_SCHEDULER: "false",
      SYNC_BUDGET_STRIPE_LIMIT: "1000000",
      SYNC_BUDGET_STRIPE_WINDOW: "1 second",
      SYNC_BUDGET_QUICKBOOKS_LIMIT: "1000000",
      SYNC_BUDGET_QUICKBOOKS_WINDOW: "1 second",
      ...(env.REDIS_URL === undefined
        ? {}
        : {
            REDIS_URL: env.REDIS_URL,
            REDIS_QUEUE_PREFIX: `bench:${database}:`,
            CIRCUIT_BREAKER_PREFIX: `bench:${database}:b:`
          }),
      ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("SYNC_") || k === "DATABASE_POOL_SIZE"))
    },
    stdio: ["ignore", "pipe", "pipe"]
  }
)
const serviceOutput = processes.watch("service", service)

const cleanUp = async () => {
  processes.stopping()
  const exited = new Promise((resolve) => service.once("exit", resolve))
  service.kill("SIGTERM")
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
  fakes.disconnect()
  await db.end()
  await dropDatabase()
}

const api = await apiClient(base, jwtSecret, tenantId)
const expect = expectStatus

try {
  await untilListening(serviceOutput)

  // Connections: Stripe by key, QuickBooks through its OAuth consent, and a reference connection for the raw upsert.
  const stripeKey = "sk_test_benchSync0123456789abcdef"
  const { accountId } = await fake<{ accountId: string }>("addStripeKey", { key: stripeKey })
  expect(await api("POST", "/connect/stripe", { venueId: venues.stripe, apiKey: stripeKey }), [201], "connect stripe")
  const referenceKey = "sk_test_benchSyncReference0123456789"
  await fake("addStripeKey", { key: referenceKey })
  expect(
    await api("POST", "/connect/stripe", { venueId: venues.reference, apiKey: referenceKey }),
    [201],
    "connect reference"
  )
  const realm = ready.quickbooks.realmId
  const authorize = await api("POST", "/connect/quickbooks", { venueId: venues.quickbooks })
  expect(authorize, [200], "connect quickbooks")
  const consent = await fake<Record<string, string>>("consentQuickBooks", { url: authorize.body.authorizationUrl })
  expect(
    await api("GET", `/oauth/callback/quickbooks?${new URLSearchParams(consent)}`, undefined, "manual"),
    [200, 302, 303],
    "quickbooks callback"
  )
  const connectionOf = async (venueId: string) =>
    (await db.query("SELECT id, status FROM connections WHERE venue_id = $1", [venueId])).rows[0] as {
      id: string
      status: string
    }
  const connections = {
    stripe: await connectionOf(venues.stripe),
    quickbooks: await connectionOf(venues.quickbooks),
    reference: await connectionOf(venues.reference)
  }
  for (const [name, c] of Object.entries(connections))
    if (c?.status !== "connected") throw new Error(`${name} is not connected: ${JSON.stringify(c)}`)

  if (providers.includes("stripe")) await fake("seedStripe", { accountId, count: total })
  if (providers.includes("quickbooks")) await fake("seedQuickBooks", { realm, count: total })

  // ---- CPU snapshots ----
  const ownBackends = new Set(
    (await Promise.all([db.query("SELECT pg_backend_pid() AS pid"), db.query("SELECT pg_backend_pid() AS pid")])).map(
      (r) => r.rows[0].pid as number
    )
  )
  const serviceBackends = async () =>
    (await db.query("SELECT pid FROM pg_stat_activity WHERE datname = $1", [database])).rows
      .map((r) => r.pid as number)
      .filter((pid) => !ownBackends.has(pid))
  const snapshot = async () => {
    const backends = await serviceBackends()
    const own = process.cpuUsage()
    return {
      at: performance.now(),
      micros: nowMicros(),
      machine: machineCpu(),
      service: processCpu(service.pid),
      fakes: processCpu(fakes.pid),
      backends: new Map(backends.map((pid) => [pid, processCpu(pid)])),
      bench: (own.user + own.system) / 1e6
    }
  }
  type Snapshot = Awaited<ReturnType<typeof snapshot>>
  const cpuBetween = (a: Snapshot, b: Snapshot) => {
    let postgres = 0
    // A backend that appeared during the phase counts from zero.
    for (const [pid, cpu] of b.backends) postgres += cpu - (a.backends.get(pid) ?? 0)
    return {
      service: b.service - a.service,
      fakes: b.fakes - a.fakes,
      postgres,
      bench: b.bench - a.bench,
      machineBusy: b.machine.busy - a.machine.busy,
      machineTotal: b.machine.total - a.machine.total
    }
  }

  interface Phase {
    readonly provider: string
    readonly phase: string
    readonly records: number
    readonly seconds: number
    readonly perSecond: number
    readonly engineSeconds: number | null
    readonly job: Record<string, unknown> | null
    readonly cpu: ReturnType<typeof cpuBetween>
    readonly window: readonly [number, number]
    readonly load: string
  }
  const phases: Array<Phase> = []
  const terminal = new Set(["completed", "failed", "dead", "paused", "cancelled"])

  const syncPhase = async (provider: "stripe" | "quickbooks", phase: string, mode: "full" | "incremental") => {
    const before = await snapshot()
    // A key per phase: the same key would answer the earlier job again.
    const reply = await api(
      "POST",
      `/${provider}/sync`,
      { venueId: venues[provider], entityTypes: ["customer"], mode },
      "follow",
      { "idempotency-key": `bench-${database}-${provider}-${phase}` }
    )
    expect(reply, [202], `${provider} ${phase} sync`)
    const jobId = reply.body.jobs[0].id as string
    let job: Record<string, any>
    while (true) {
      job = (
        await db.query(
          `SELECT status, fetched, created, updated, unchanged, deleted, failed, last_error,
             extract(epoch FROM finished_at - started_at)::float8 AS engine_seconds,
             extract(epoch FROM started_at - created_at)::float8 AS pickup_seconds
           FROM sync_jobs WHERE id = $1`,
          [jobId]
        )
      ).rows[0]
      if (terminal.has(job.status)) break
      await new Promise((r) => setTimeout(r, 25))
    }
    const after = await snapshot()
    if (job.status !== "completed") throw new Error(`${provider} ${phase}: ${JSON.stringify(job)}`)
    const seconds = (after.at - before.at) / 1000
    const result: Phase = {
      provider,
      phase,
      records: job.fetched,
      seconds,
      perSecond: job.fetched / seconds,
      engineSeconds: job.engine_seconds,
      job,
      cpu: cpuBetween(before, after),
      window: [before.micros, after.micros],
      load: load()
    }
    phases.push(result)
    const c = result.cpu
    console.error(
      `${provider} ${phase}: ${job.fetched} records in ${seconds.toFixed(2)} s = ${Math.round(result.perSecond)}/s ` +
        `(created ${job.created}, updated ${job.updated}, unchanged ${job.unchanged}); CPU µs/record fakes ` +
        `${Math.round((c.fakes * 1e6) / job.fetched)}, service ${Math.round((c.service * 1e6) / job.fetched)}, ` +
        `postgres ${Math.round((c.postgres * 1e6) / job.fetched)}; load ${result.load}`
    )
    return result
  }

  // ---- the reference: a raw batched upsert of the same rows into the same table ----
  const upsert = `INSERT INTO synced_records AS s (tenant_id, connection_id, entity_type, external_id, raw,
      content_hash, data, errors, mapping_version, deleted, change, change_seq, seen_by)
    SELECT $1, $2, 'customer', x.external_id, x.raw, md5(x.raw::text), x.data, x.errors, 0, false, 'added',
      nextval('synced_records_change_seq'), NULL
    FROM jsonb_to_recordset($3::jsonb) AS x(external_id text, raw jsonb, data jsonb, errors jsonb)
    ON CONFLICT (tenant_id, connection_id, entity_type, external_id) DO UPDATE SET
      raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, data = EXCLUDED.data, errors = EXCLUDED.errors,
      mapping_version = EXCLUDED.mapping_version, change = 'updated', change_seq = EXCLUDED.change_seq,
      updated_at = now()
    WHERE s.content_hash <> EXCLUDED.content_hash OR s.mapping_version <> EXCLUDED.mapping_version`
  // The engine's full pass also marks every record it saw (seen_by), changed or not.
  const markSeen = `UPDATE synced_records SET seen_by = $3
    WHERE tenant_id = $1 AND connection_id = $2 AND entity_type = 'customer' AND external_id = ANY($4::text[])
      AND seen_by IS DISTINCT FROM $3`
  // A proposal, measured: compare hashes first and send payloads only for what differs.
  const changedOnly = `SELECT i.external_id FROM jsonb_to_recordset($3::jsonb) AS i(external_id text, content_hash text)
    LEFT JOIN synced_records s ON s.tenant_id = $1 AND s.connection_id = $2 AND s.entity_type = 'customer'
      AND s.external_id = i.external_id
    WHERE s.content_hash IS DISTINCT FROM i.content_hash`
  type Row = { external_id: string; raw: Record<string, unknown>; data: unknown; errors: unknown }
  type Batch = (client: PgPoolClient, batch: ReadonlyArray<Row>) => Promise<unknown>
  const upsertBatch: Batch = (client, batch) =>
    client.query(upsert, [tenantId, connections.reference.id, JSON.stringify(batch)])
  const upsertAndMark =
    (pass: string): Batch =>
    async (client, batch) => {
      await client.query("BEGIN")
      await upsertBatch(client, batch)
      await client.query(markSeen, [tenantId, connections.reference.id, pass, batch.map((r) => r.external_id)])
      await client.query("COMMIT")
    }
  const hashCheck =
    (stored: ReadonlyMap<string, string>): Batch =>
    async (client, batch) => {
      // The service would hash its own serialization of the payload: that cost is paid here; the hash sent is the
      // stored one (PostgreSQL's md5 of jsonb text), so that the comparison finds what the engine's would.
      const input = batch.map((r) => {
        createHash("md5").update(JSON.stringify(r.raw)).digest("hex")
        return { external_id: r.external_id, content_hash: stored.get(r.external_id) }
      })
      const differing = await client.query(changedOnly, [tenantId, connections.reference.id, JSON.stringify(input)])
      if (differing.rows.length > 0) throw new Error(`${differing.rows.length} rows differ in an unchanged pass`)
    }
  const rawPhase = async (provider: string, phase: string, rows: ReadonlyArray<Row>, batch: Batch = upsertBatch) => {
    const client = await db.connect()
    const backend = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number
    const cpuBefore = process.cpuUsage()
    const pgBefore = processCpu(backend)
    const t0 = performance.now()
    for (let i = 0; i < rows.length; i += 1000) await batch(client, rows.slice(i, i + 1000))
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const postgres = processCpu(backend) - pgBefore
    client.release()
    const result = {
      provider,
      phase,
      records: rows.length,
      seconds,
      perSecond: rows.length / seconds,
      clientCpu: (cpu.user + cpu.system) / 1e6,
      postgres,
      load: load()
    }
    console.error(
      `${provider} raw ${phase}: ${rows.length} rows in ${seconds.toFixed(2)} s = ${Math.round(result.perSecond)}/s; ` +
        `CPU µs/row client ${Math.round((result.clientCpu * 1e6) / rows.length)}, ` +
        `postgres ${Math.round((postgres * 1e6) / rows.length)}`
    )
    return result
  }
  const storedRows = async (connectionId: string) =>
    (
      await db.query(
        `SELECT external_id, raw, data, errors FROM synced_records WHERE connection_id = $1 ORDER BY change_seq`,
        [connectionId]
      )
    ).rows as Array<{ external_id: string; raw: Record<string, unknown>; data: unknown; errors: unknown }>

  /** The compiled default mapping alone over the same raw payloads, in this process: mapping CPU per record. */
  const mappingAlone = (provider: "stripe" | "quickbooks", raws: ReadonlyArray<Record<string, unknown>>) => {
    const apply = compileRules(
      defaultTemplate(provider, "customer", "inbound")?.rules ?? [],
      sidesOf(provider, "customer", "inbound").targets
    )
    for (let i = 0; i < Math.min(raws.length, 5_000); i++) apply(raws[i])
    const before = process.cpuUsage()
    let errors = 0
    for (const raw of raws) errors += apply(raw).errors.length
    const cpu = process.cpuUsage(before)
    return { microsPerRecord: (cpu.user + cpu.system) / raws.length, errors }
  }
  /** JSON.parse of the pages' bodies as the fake serialized them, alone: the floor of any SDK's parsing. */
  const parseAlone = (raws: ReadonlyArray<Record<string, unknown>>, pageSize: number) => {
    const bodies: Array<string> = []
    for (let i = 0; i < raws.length; i += pageSize) bodies.push(JSON.stringify({ data: raws.slice(i, i + pageSize) }))
    const before = process.cpuUsage()
    let n = 0
    for (const body of bodies) n += (JSON.parse(body) as { data: Array<unknown> }).data.length
    const cpu = process.cpuUsage(before)
    return {
      microsPerRecord: (cpu.user + cpu.system) / n,
      bytesPerRecord: bodies.reduce((a, b) => a + b.length, 0) / n
    }
  }

  // Without autovacuum (this shared server runs with it off) synced_records keeps the statistics of an empty table,
  // and the engine's per-page lookups by external id become scans of the whole connection: analyze between phases,
  // untimed, as autovacuum would within a minute.
  const autovacuum = (await db.query("SHOW autovacuum")).rows[0].autovacuum as string
  const analyze = async () => {
    if (autovacuum !== "on") await db.query("ANALYZE synced_records")
  }
  console.error(`autovacuum ${autovacuum}${autovacuum === "on" ? "" : ": synced_records analyzed between phases"}`)
  const references: Array<Awaited<ReturnType<typeof rawPhase>>> = []
  const alone: Record<string, { mapping: number; parse: number; bytes: number }> = {}
  const pageSizes = { stripe: 100, quickbooks: 1000 }
  for (const provider of providers) {
    await syncPhase(provider, "full", "full")
    await analyze()
    await syncPhase(provider, "unchanged", "full")
    await analyze()
    if (provider === "stripe") await fake("changeStripe", { accountId, count: changed, tag: "a" })
    else await fake("changeQuickBooks", { realm, count: changed, tag: "a", perSecond: Math.ceil(changed / 10) })
    await syncPhase(provider, "incremental", "incremental")
    await analyze()

    const rows = (await storedRows(connections[provider].id)).map((r) => ({
      external_id: r.external_id,
      raw: r.raw,
      data: r.data,
      errors: r.errors
    }))
    references.push(await rawPhase(provider, "insert", rows))
    await analyze()
    references.push(await rawPhase(provider, "unchanged", rows))
    references.push(await rawPhase(provider, "unchanged + seen mark", rows, upsertAndMark(crypto.randomUUID())))
    const stored = new Map(
      (
        await db.query("SELECT external_id, content_hash FROM synced_records WHERE connection_id = $1", [
          connections.reference.id
        ])
      ).rows.map((r) => [r.external_id as string, r.content_hash as string])
    )
    references.push(await rawPhase(provider, "unchanged, hash check only", rows, hashCheck(stored)))
    const raws = rows.map((r) => r.raw)
    const mapping = mappingAlone(provider, raws)
    const parse = parseAlone(raws, pageSizes[provider])
    alone[provider] = { mapping: mapping.microsPerRecord, parse: parse.microsPerRecord, bytes: parse.bytesPerRecord }
  }

  await cleanUp()

  // ---- where the service's time went, per phase, from its CPU profile ----
  let profile: Profile | undefined
  if (profiling) {
    const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))
    if (file === undefined) console.error("no CPU profile was written by the service")
    else profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as Profile
  }

  // ---- the report ----
  const us = (seconds: number, records: number) => (records === 0 ? 0 : (seconds * 1e6) / records)
  const round = (n: number, digits = 1) => Number(n.toFixed(digits))
  const report = phases.map((p) => {
    const raw = references.find(
      (r) => r.provider === p.provider && r.phase === (p.phase === "full" ? "insert" : "unchanged")
    )
    const split = profile === undefined ? undefined : splitProfile(profile, p.window)
    return {
      provider: p.provider,
      phase: p.phase,
      records: p.records,
      seconds: round(p.seconds, 2),
      recordsPerSecond: Math.round(p.perSecond),
      engineSeconds: p.engineSeconds === null ? null : round(p.engineSeconds, 2),
      rawPerSecond: p.phase === "incremental" || raw === undefined ? null : Math.round(raw.perSecond),
      ratioToRaw: p.phase === "incremental" || raw === undefined ? null : round(p.perSecond / raw.perSecond, 2),
      // What one core would do if the pipeline had it to itself (pages are fetched, mapped and committed in turn).
      recordsPerCpuSecond: Math.round(p.records / (p.cpu.fakes + p.cpu.service + p.cpu.postgres)),
      rawPerCpuSecond:
        p.phase === "incremental" || raw === undefined
          ? null
          : Math.round(raw.records / (raw.clientCpu + raw.postgres)),
      cpuMicrosPerRecord: {
        fakes: round(us(p.cpu.fakes, p.records)),
        service: round(us(p.cpu.service, p.records)),
        postgres: round(us(p.cpu.postgres, p.records)),
        bench: round(us(p.cpu.bench, p.records))
      },
      machineBusy: `${Math.round((100 * p.cpu.machineBusy) / p.cpu.machineTotal)} %`,
      serviceProfile:
        split === undefined
          ? undefined
          : Object.fromEntries(
              Object.entries(split.components).map(([k, ms]) => [k, round((ms * 1000) / Math.max(1, p.records))])
            ),
      topFunctions: split?.top,
      load: p.load
    }
  })
  console.log(
    JSON.stringify(
      {
        records: total,
        changed,
        profiled: profiling,
        autovacuum,
        cores: machineCores(),
        loadAverage: { atStart: loadAtStart, atEnd: load() },
        phases: report,
        references: references.map((r) => ({
          ...r,
          perSecond: Math.round(r.perSecond),
          seconds: round(r.seconds, 2),
          clientCpuMicrosPerRecord: round(us(r.clientCpu, r.records)),
          postgresMicrosPerRecord: round(us(r.postgres, r.records))
        })),
        aloneInBench: Object.fromEntries(
          Object.entries(alone).map(([k, v]) => [
            k,
            {
              mappingMicrosPerRecord: round(v.mapping, 2),
              jsonParseMicrosPerRecord: round(v.parse, 2),
              bytesPerRecord: Math.round(v.bytes)
            }
          ])
        )
      },
      null,
      2
    )
  )
  console.log("")
  console.log(
    `load average at start ${loadAtStart}, at end ${load()} (${machineCores()} cores, shared); ` +
      `service ${profiling ? "under --cpu-prof" : "not profiled"}`
  )
  console.log(
    "provider    phase        records     wall s   records/s  raw/s     ratio   CPU µs/record: fakes service postgres"
  )
  for (const r of report)
    console.log(
      `${r.provider.padEnd(11)} ${r.phase.padEnd(12)} ${String(r.records).padStart(7)} ${r.seconds.toFixed(2).padStart(10)} ` +
        `${String(r.recordsPerSecond).padStart(10)}  ${String(r.rawPerSecond ?? "-").padStart(8)} ${String(r.ratioToRaw ?? "-").padStart(7)}   ` +
        `${String(r.cpuMicrosPerRecord.fakes).padStart(20)} ${String(r.cpuMicrosPerRecord.service).padStart(7)} ${String(r.cpuMicrosPerRecord.postgres).padStart(8)}` +
        `   per CPU s: ${r.recordsPerCpuSecond} vs raw ${r.rawPerCpuSecond ?? "-"}`
    )
  const fulls = report.filter((r) => r.phase === "full")
  const worst = Math.min(...fulls.map((r) => r.recordsPerSecond))
  const worstRatio = Math.min(...fulls.map((r) => r.ratioToRaw ?? 0))
  for (const r of references)
    console.log(
      `raw ${r.provider} ${r.phase}: ${Math.round(r.perSecond)} rows/s, ` +
        `${Math.round(r.records / (r.clientCpu + r.postgres))} per CPU s ` +
        `(client ${round(us(r.clientCpu, r.records))} µs, postgres ${round(us(r.postgres, r.records))} µs per row)`
    )
  console.log(
    `full sync: slowest ${worst.toLocaleString("en-US")} records/s end to end (target ≥ 30,000), ` +
      `${worstRatio}× the raw upsert (target ≥ 0.4×)`
  )
} catch (error) {
  console.error(error)
  await cleanUp().catch(() => undefined)
  process.exitCode = 1
}

function machineCores() {
  return readFileSync("/proc/cpuinfo", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("processor")).length
}
