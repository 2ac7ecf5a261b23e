import { assert, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { outboundJobs, putRecords } from "../support/OutboundTestApp.ts"
import { connectOAuth } from "../support/SyncConnect.ts"
import { jobsSettled, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "0f000000-0000-4000-8000-0000000000f1"
const venueId = "0f000000-1111-4000-8000-0000000000f1"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const merchant = "MLMIDJOBCHANGE01"

const buyer = (i: number, version: number, givenName = `Given${i}`) => ({
  id: `mid-buyer-${i}`,
  version,
  data: { email: `mid${i}@example.test`, givenName, familyName: `Family${i}` }
})

// Two records a page (Square customers are written one call each, so a page is SYNC_OUTBOUND_PAGE records).
layer(syncAppWith({ SYNC_OUTBOUND_DEBOUNCE: "1 second", SYNC_OUTBOUND_PAGE: "2" }), {
  timeout: "120 seconds",
  excludeTestServices: true
})("outbound sync: a record changed while its page is pushed", (it) => {
  it.effect("comes back two pages later, after its first push is committed: updated, never created twice", () =>
    Effect.gen(function* () {
      const { square } = yield* TestWorld
      yield* connectOAuth("square", admin, venueId, merchant)
      // Slow writes: page 1 is still being pushed when the record changes; page 2 (one record) is already read, so
      // the change is page 3, read as page 2 starts — right after page 1's commit is begun.
      square.setDataLatency(400)
      yield* putRecords(admin, venueId, "customer", [buyer(0, 1), buyer(1, 1), buyer(2, 1)])
      yield* Effect.sync(() => square.dataRequests(merchant).some((r) => r.path.startsWith("POST /v2/customers"))).pipe(
        Effect.filterOrFail((writing) => writing),
        Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: "30 seconds" })))
      )
      yield* putRecords(admin, venueId, "customer", [buyer(0, 2, "Changed")])
      yield* jobsSettled("square", venueId, admin)
      square.setDataLatency(0)

      const jobs = yield* outboundJobs("square", venueId, admin, "customer")
      const sum = (key: string) => jobs.reduce((total, j) => total + j.counts[key], 0)
      assert.deepStrictEqual(
        [sum("created"), sum("updated"), sum("failed")],
        [3, 1, 0],
        JSON.stringify(jobs.map((j) => j.counts))
      )
      assert.strictEqual(square.creations(merchant, "customer"), 3, "no buyer was created twice")
      const atSquare = square.records(merchant, "customer").map((c: any) => [c.reference_id, c.given_name])
      assert.deepStrictEqual(atSquare.sort(), [
        ["mid-buyer-0", "Changed"],
        ["mid-buyer-1", "Given1"],
        ["mid-buyer-2", "Given2"]
      ])
    })
  )
})
