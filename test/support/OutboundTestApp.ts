import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { base, jobHistory, startSync } from "./SyncTestApp.ts"
import { type Caller, call } from "./TestApp.ts"

/** Writes the venue's platform records, 1,000 a request (the most the API takes). */
export const putRecords = (
  caller: Caller,
  venueId: string,
  entityType: string,
  records: ReadonlyArray<Record<string, unknown>>
) =>
  Effect.gen(function* () {
    for (let i = 0; i < records.length; i += 1000) {
      const reply = yield* call("PUT", `${base}/platform/${entityType}`, {
        caller,
        body: { venueId, records: records.slice(i, i + 1000) }
      })
      assert.strictEqual(reply.status, 200, reply.text)
    }
  })

/** Deletes one of the venue's platform records. */
export const removeRecord = (caller: Caller, venueId: string, entityType: string, id: string) =>
  Effect.gen(function* () {
    const reply = yield* call("DELETE", `${base}/platform/${entityType}/${id}?venueId=${venueId}`, { caller })
    assert.isTrue(reply.status === 200 || reply.status === 204, reply.text)
  })

/** The venue's outbound jobs of the entity for `provider`, newest first. */
export const outboundJobs = (provider: string, venueId: string, caller: Caller, entityType: string) =>
  Effect.map(jobHistory(provider, venueId, caller), (jobs) =>
    jobs.filter((j) => j.direction === "outbound" && j.entityType === entityType)
  )

/**
 * The summed counts of the venue's outbound jobs of the entity newer than `after` (debounced changes may take several
 * jobs), each of which completed.
 */
export const countsSince = (
  provider: string,
  venueId: string,
  caller: Caller,
  entityType: string,
  after: { readonly id: string }
) =>
  Effect.map(outboundJobs(provider, venueId, caller, entityType), (outbound) => {
    const newer = outbound.slice(
      0,
      outbound.findIndex((j) => j.id === after.id)
    )
    assert.isNotEmpty(newer, "the changes ran a job")
    for (const job of newer) assert.strictEqual(job.status, "completed", JSON.stringify(job))
    const sum = (key: string) => newer.reduce((total, j) => total + j.counts[key], 0)
    return { created: sum("created"), updated: sum("updated"), deleted: sum("deleted"), failed: sum("failed") }
  })

/** The venue's newest outbound job of the entity for `provider`. */
export const latestOutbound = (provider: string, venueId: string, caller: Caller, entityType: string) =>
  Effect.map(outboundJobs(provider, venueId, caller, entityType), (jobs) => jobs[0]!)

/** Starts a full outbound pass of one entity (under `idempotencyKey` when given): one outbound job is queued. */
export const startFullOutbound = (
  provider: string,
  caller: Caller,
  venueId: string,
  entityType: string,
  idempotencyKey?: string
) =>
  Effect.gen(function* () {
    const again = yield* startSync(
      provider,
      caller,
      { venueId, entityTypes: [entityType], direction: "outbound", mode: "full" },
      idempotencyKey === undefined ? undefined : { "idempotency-key": idempotencyKey }
    )
    assert.strictEqual(again.status, 202, again.text)
    assert.deepStrictEqual(
      again.body.jobs.map((j: any) => [j.entityType, j.direction]),
      [[entityType, "outbound"]]
    )
  })

/** A full outbound job that read `live` records and found each as it was pushed: nothing written, nothing failed. */
export const assertAllUnchanged = (full: any, live: number) =>
  assert.deepStrictEqual(
    [
      full.status,
      full.mode,
      full.counts.fetched,
      full.counts.unchanged,
      full.counts.created,
      full.counts.updated,
      full.counts.deleted,
      full.counts.failed
    ],
    ["completed", "full", live, live, 0, 0, 0, 0],
    JSON.stringify(full.counts)
  )
