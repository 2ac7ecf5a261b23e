import { assert } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MemorySyncJobStore } from "../../adapters/memory/MemorySyncJobStore.ts"
import { MemorySyncRecords } from "../../adapters/memory/MemorySyncRecords.ts"
import { MemorySyncSchedule } from "../../adapters/memory/MemorySyncSchedule.ts"
import { MemorySyncState } from "../../adapters/memory/MemorySyncState.ts"
import { PostgresSyncJobStore } from "../../adapters/postgres/PostgresSyncJobStore.ts"
import { PostgresSyncRecords } from "../../adapters/postgres/PostgresSyncRecords.ts"
import { PostgresSyncSchedule } from "../../adapters/postgres/PostgresSyncSchedule.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { MappingOutcome } from "../../domain/mapping/Compile.ts"
import type { Checkpoint, SyncJob } from "../../domain/sync/SyncJob.ts"
import { type JobRequest, SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import type { PageCommit, RecordWrite, SyncRecords } from "../../ports/sync/SyncRecords.ts"
import type { SyncSchedule } from "../../ports/sync/SyncSchedule.ts"
import { ConnectionSetup, postgresConnectionSetup } from "../support/ConnectionSetup.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

/** What the sync contracts run against: the three sync ports of one adapter family, and a way to add connections. */
export type SyncStack = SyncJobStore | SyncRecords | SyncSchedule | ConnectionSetup

/** The in-memory sync adapters on one shared state; a connection set up is one the scheduler's world knows. */
export const memorySyncStack: Layer.Layer<SyncStack> = Layer.mergeAll(
  MemorySyncJobStore.layer,
  MemorySyncRecords.layer,
  MemorySyncSchedule.layer,
  Layer.effect(
    ConnectionSetup,
    Effect.map(MemorySyncState, (world) => ConnectionSetup.of({ connection: (c) => world.connect(c.tenantId, c.id) }))
  )
).pipe(Layer.provide(MemorySyncState.layer))

export const postgresSyncStack: Layer.Layer<SyncStack> = Layer.mergeAll(
  PostgresSyncJobStore.layer,
  PostgresSyncRecords.layer,
  PostgresSyncSchedule.layer,
  postgresConnectionSetup
).pipe(Layer.provide(TestDatabase))

export const jobRequest = (c: Connection, overrides: Partial<JobRequest> = {}): JobRequest => ({
  tenantId: c.tenantId,
  connectionId: c.id,
  venueId: c.venueId,
  provider: c.provider,
  entityType: "customer",
  direction: "inbound",
  mode: "incremental",
  priority: "normal",
  idempotencyKey: crypto.randomUUID(),
  requestedBy: "contract",
  ...overrides
})

/** Claim tokens are UUIDs (PostgreSQL's column type). */
export const newClaim = () => crypto.randomUUID()

export const liveFor = 30_000

/** A new job, claimed: running under the answered claim. */
export const runningJob = (c: Connection, overrides: Partial<JobRequest> = {}) =>
  Effect.gen(function* () {
    const store = yield* SyncJobStore
    const requested = yield* store.request(jobRequest(c, overrides))
    assert.strictEqual(requested._tag, "created")
    const claim = newClaim()
    const job = yield* store.claim(c.tenantId, requested.job.id, claim, liveFor)
    if (typeof job === "string") return assert.fail(`claim refused: ${job}`)
    return { job, claim }
  })

export const getJob = (c: Connection, jobId: string) =>
  Effect.flatMap(SyncJobStore, (store) => store.get(c.tenantId, jobId)).pipe(
    Effect.map((found) => (found._tag === "Some" ? found.value : assert.fail(`job ${jobId} not found`)))
  )

export const checkpoint = (pages: number, cursor: string | null = `page-${pages + 1}`): Checkpoint => ({
  mode: "full",
  since: null,
  cursor,
  watermark: null,
  pages
})

export const mapped = (output: Record<string, unknown>, errors = 0): MappingOutcome => ({
  output,
  warnings: [],
  errors: Array.from({ length: errors }, (_, rule) => ({
    rule,
    field: "email",
    kind: "error" as const,
    message: "required"
  }))
})

/** A live record whose mapped data is its payload's `name`. */
export const upsert = (externalId: string, raw: Record<string, unknown>, errors = 0): RecordWrite => ({
  externalId,
  raw,
  deleted: false,
  mapped: mapped({ id: externalId, name: raw.name ?? null }, errors)
})

export const deletion = (externalId: string): RecordWrite => ({
  externalId,
  raw: { id: externalId, deleted: true },
  deleted: true,
  mapped: null
})

/** A page of `job` under `claim`; the caller overrides what the test is about. */
export const pageOf = (
  c: Connection,
  running: { readonly job: SyncJob; readonly claim: string },
  records: ReadonlyArray<RecordWrite>,
  overrides: Partial<PageCommit> = {}
): PageCommit => ({
  tenantId: c.tenantId,
  connectionId: c.id,
  entityType: running.job.entityType,
  jobId: running.job.id,
  claim: running.claim,
  mappingVersion: 1,
  full: running.job.mode === "full",
  records,
  checkpoint: checkpoint(1),
  total: null,
  ...overrides
})
