import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { PostgresOutboundRecords } from "../../adapters/postgres/PostgresOutboundRecords.ts"
import { PostgresPlatformRecords } from "../../adapters/postgres/PostgresPlatformRecords.ts"
import type { Connection } from "../../domain/Connection.ts"
import { noCounts } from "../../domain/sync/SyncJob.ts"
import { PlatformRecords } from "../../ports/PlatformRecords.ts"
import { OutboundRecords, type Pushed } from "../../ports/sync/OutboundRecords.ts"
import { setUpConnection } from "../support/ConnectionSetup.ts"
import { tenantA } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"
import { checkpoint, getJob, newClaim, postgresSyncStack, runningJob } from "./SyncContractSupport.ts"

// The outbound store's contract on PostgreSQL (it has no in-memory adapter): what OutboundPass relies on.

const stack = Layer.mergeAll(
  postgresSyncStack,
  PostgresOutboundRecords.layer.pipe(Layer.provide(TestDatabase)),
  PostgresPlatformRecords.layer.pipe(Layer.provide(TestDatabase))
)

const buyer = (id: string, version: number, givenName = "Ada") => ({
  id,
  version,
  data: { id, email: `${id}@venue.example`, givenName }
})

const put = (c: Connection, records: ReadonlyArray<ReturnType<typeof buyer>>) =>
  Effect.flatMap(PlatformRecords, (platform) => platform.upsert(c.tenantId, c.venueId, "customer", records))

const pushed = (platformId: string, version: number, externalId: string, archived = false): Pushed => ({
  platformId,
  version,
  externalId,
  raw: { id: externalId, name: platformId, nested_key: { keeps_its_name: true } },
  data: { id: externalId },
  archived,
  pushedHash: archived ? "deleted" : `hash-${platformId}-${version}`
})

/** One page's pushes committed under the running job's claim. */
const commit = (c: Connection, job: { id: string }, claim: string, pushes: ReadonlyArray<Pushed>, pages = 1) =>
  Effect.flatMap(OutboundRecords, (outbound) =>
    outbound.commitPush({
      tenantId: c.tenantId,
      connectionId: c.id,
      entityType: "customer",
      jobId: job.id,
      claim,
      mappingVersion: 0,
      pushed: pushes,
      counts: { ...noCounts, fetched: pushes.length, created: pushes.length },
      checkpoint: checkpoint(pages)
    })
  )

layer(stack, { timeout: "60 seconds" })("OutboundRecords contract: PostgresOutboundRecords", (it) => {
  it.effect("changes come in change order after a sequence number, deletions included; records are the live ones", () =>
    Effect.gen(function* () {
      const outbound = yield* OutboundRecords
      const platform = yield* PlatformRecords
      const c = yield* setUpConnection(tenantA, "stripe")
      yield* put(c, [buyer("b-1", 1), buyer("b-2", 1), buyer("b-3", 1)])
      yield* put(c, [buyer("b-1", 2, "Augusta")])
      yield* platform.remove(c.tenantId, c.venueId, "customer", "b-2")

      const all = yield* outbound.changes(c.tenantId, c.venueId, "customer", "0", 10)
      assert.deepStrictEqual(
        all.map((r) => [r.id, r.version, r.deleted]),
        [
          ["b-3", 1, false],
          ["b-1", 2, false],
          ["b-2", 1, true]
        ],
        "each record once, at its latest change"
      )
      assert.deepStrictEqual(all[1]?.data.givenName, "Augusta")
      const after = yield* outbound.changes(c.tenantId, c.venueId, "customer", all[0]!.seq, 1)
      assert.deepStrictEqual(
        after.map((r) => r.id),
        ["b-1"]
      )
      const live = yield* outbound.records(c.tenantId, c.venueId, "customer", ["b-1", "b-2", "b-9"])
      assert.deepStrictEqual([...live.keys()], ["b-1"])
      assert.deepStrictEqual((yield* outbound.records(c.tenantId, c.venueId, "product", ["b-1"])).size, 0)
    })
  )

  it.effect("a page's pushes commit with the checkpoint under the claim: links, their raw copy, the archive", () =>
    Effect.gen(function* () {
      const outbound = yield* OutboundRecords
      const c = yield* setUpConnection(tenantA, "stripe")
      yield* put(c, [buyer("p-1", 1), buyer("p-2", 1)])
      const { job, claim } = yield* runningJob(c, { direction: "outbound", mode: "full" })
      yield* commit(c, job, claim, [pushed("p-1", 1, "cus_1"), pushed("p-2", 1, "cus_2")])

      const links = yield* outbound.links(c.tenantId, c.id, "customer", ["p-1", "p-2", "p-3"])
      assert.deepStrictEqual(
        links.map((l) => [l.platformId, l.externalId, l.deleted, l.pushedHash, l.changedSincePush]).sort(),
        [
          ["p-1", "cus_1", false, "hash-p-1-1", false],
          ["p-2", "cus_2", false, "hash-p-2-1", false]
        ]
      )
      // The provider's keys are kept as they were (not renamed by the pool's column-name transform).
      assert.deepStrictEqual(links[0]?.raw.nested_key, { keeps_its_name: true })
      assert.deepStrictEqual(yield* outbound.linkOf(c.tenantId, c.id, "customer", "p-1"), Option.some("cus_1"))
      const saved = yield* getJob(c, job.id)
      assert.deepStrictEqual([saved.checkpoint?.pages, saved.counts.created], [1, 2])

      yield* commit(c, job, claim, [pushed("p-2", 2, "cus_2", true)], 2)
      assert.isTrue(Option.isNone(yield* outbound.linkOf(c.tenantId, c.id, "customer", "p-2")), "archived: no link")
      const [archived] = yield* outbound.links(c.tenantId, c.id, "customer", ["p-2"])
      assert.deepStrictEqual([archived?.deleted, archived?.pushedHash], [true, "deleted"])
    })
  )

  it.effect("a commit under a lost claim is refused and links nothing", () =>
    Effect.gen(function* () {
      const outbound = yield* OutboundRecords
      const c = yield* setUpConnection(tenantA, "stripe")
      yield* put(c, [buyer("l-1", 1)])
      const { job } = yield* runningJob(c, { direction: "outbound" })
      const refused = yield* Effect.flip(commit(c, job, newClaim(), [pushed("l-1", 1, "cus_l")]))
      assert.strictEqual(refused._tag, "LostClaim")
      assert.deepStrictEqual(yield* outbound.links(c.tenantId, c.id, "customer", ["l-1"]), [])
    })
  )

  it.effect("the incremental position and the conflict policies are the connection's own", () =>
    Effect.gen(function* () {
      const outbound = yield* OutboundRecords
      const c = yield* setUpConnection(tenantA, "square")
      const other = yield* setUpConnection(tenantA, "square")
      assert.isTrue(Option.isNone(yield* outbound.position(c.tenantId, c.id, "customer")))
      yield* outbound.savePosition(c.tenantId, c.id, "customer", "42", true)
      yield* outbound.savePosition(c.tenantId, c.id, "customer", "57", false)
      assert.deepStrictEqual(yield* outbound.position(c.tenantId, c.id, "customer"), Option.some("57"))
      assert.isTrue(Option.isNone(yield* outbound.position(c.tenantId, other.id, "customer")))

      yield* outbound.setPolicy(c.tenantId, c.id, "customer", "provider_wins", "admin:u1")
      yield* outbound.setPolicy(c.tenantId, c.id, "customer", "platform_wins", "admin:u1")
      assert.deepStrictEqual([...(yield* outbound.policies(c.tenantId, c.id))], [["customer", "platform_wins"]])
      assert.strictEqual((yield* outbound.policies(c.tenantId, other.id)).size, 0)
    })
  )
})
