import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import fc from "fast-check"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { type FeedRecord, type RecordWrite, SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { setUpConnection } from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import {
  checkpoint,
  deletion,
  getJob,
  newClaim,
  pageOf,
  runningJob,
  type SyncStack,
  upsert
} from "./SyncContractSupport.ts"

const lostClaim = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => assert.strictEqual(e._tag, "LostClaim"))

/** The whole feed of a connection (or one entity) from the start. */
const wholeFeed = (c: Connection, entityType: Option.Option<EntityType> = Option.none()) =>
  Effect.flatMap(SyncRecords, (records) => records.feed(c.tenantId, c.id, entityType, Option.none(), 10_000))

const byId = (feed: ReadonlyArray<FeedRecord>) => new Map(feed.map((r) => [r.externalId, r]))

/** One job's pages written in turn, then the job completed; answers the job. */
const syncedBy = (
  c: Connection,
  pages: ReadonlyArray<ReadonlyArray<RecordWrite>>,
  options: {
    readonly entityType?: EntityType
    readonly mode?: "full" | "incremental"
    readonly mappingVersion?: number
    readonly complete?: boolean
  } = {}
) =>
  Effect.gen(function* () {
    const store = yield* SyncJobStore
    const records = yield* SyncRecords
    const running = yield* runningJob(c, {
      entityType: options.entityType ?? "customer",
      mode: options.mode ?? "incremental"
    })
    const mappingVersion = options.mappingVersion ?? 1
    for (const [n, page] of pages.entries())
      yield* records.commitPage(pageOf(c, running, page, { checkpoint: checkpoint(n + 1), mappingVersion }))
    let gone = 0
    if (options.complete === true) gone = yield* records.completeFullPass(pageOf(c, running, []))
    yield* store.finish(c.tenantId, running.job.id, running.claim, { status: "completed", error: null })
    return { job: yield* getJob(c, running.job.id), gone }
  })

/** An operation of the property: a record of a small id space written with one of three values, or deleted. */
interface Op {
  readonly id: string
  readonly value: number | null
}
const opArb: fc.Arbitrary<Op> = fc.record({
  id: fc.constantFrom("r0", "r1", "r2", "r3", "r4"),
  value: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null, freq: 4 })
})
/** Value 2 does not map (a required field is missing): such a record is stored but stays out of the feed. */
const writeOf = (op: Op): RecordWrite =>
  op.value === null ? deletion(op.id) : upsert(op.id, { id: op.id, name: `v${op.value}` }, op.value === 2 ? 1 : 0)

const scenarioArb = fc.array(
  fc.record({
    ops: fc.uniqueArray(opArb, { selector: (op) => op.id, maxLength: 5 }),
    reads: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 })
  }),
  { minLength: 1, maxLength: 6 }
)

/** What every SyncRecords must do; the stack's SyncJobStore runs the jobs whose claims fence the writes. */
export const syncRecordsContract = (name: string, stack: Layer.Layer<SyncStack>, options: { readonly runs: number }) =>
  layer(stack, { timeout: "120 seconds", excludeTestServices: true })(`SyncRecords contract: ${name}`, (it) => {
    it.effect("a page counts created, updated, unchanged, deleted and failed records with the job's checkpoint", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "stripe")
        const running = yield* runningJob(c)
        const first = yield* records.commitPage(
          pageOf(
            c,
            running,
            [
              upsert("a", { id: "a", name: "A", nested: { x: 1, y: [1, 2] } }),
              upsert("b", { id: "b", name: "B" }),
              upsert("c", { id: "c", name: "C" })
            ],
            { checkpoint: checkpoint(1), total: 10 }
          )
        )
        assert.deepStrictEqual(first, { fetched: 3, created: 3, updated: 0, unchanged: 0, deleted: 0, failed: 0 })
        const before = byId(yield* wholeFeed(c))
        assert.deepStrictEqual(
          [...before.values()].map((r) => [r.externalId, r.change, r.data, r.mappingVersion, r.entityType]),
          [
            ["a", "added", { id: "a", name: "A" }, 1, "customer"],
            ["b", "added", { id: "b", name: "B" }, 1, "customer"],
            ["c", "added", { id: "c", name: "C" }, 1, "customer"]
          ]
        )
        const second = yield* records.commitPage(
          pageOf(
            c,
            running,
            [
              // The same payload with its keys in another order is the same payload.
              upsert("a", { nested: { y: [1, 2], x: 1 }, name: "A", id: "a" }),
              upsert("b", { id: "b", name: "B2" }),
              deletion("c"),
              deletion("never-seen"),
              upsert("d", { id: "d" }, 1)
            ],
            { checkpoint: checkpoint(2), total: null }
          )
        )
        assert.deepStrictEqual(second, { fetched: 5, created: 1, updated: 1, unchanged: 2, deleted: 1, failed: 1 })
        const job = yield* getJob(c, running.job.id)
        assert.deepStrictEqual(job.counts, { fetched: 8, created: 4, updated: 1, unchanged: 2, deleted: 1, failed: 1 })
        assert.deepStrictEqual([job.checkpoint, job.total], [checkpoint(2), 10])
        const after = byId(yield* wholeFeed(c))
        // Unchanged: not rewritten, so not a change again.
        assert.strictEqual(after.get("a")!.seq, before.get("a")!.seq)
        assert.deepStrictEqual([after.get("b")!.change, after.get("b")!.data], ["updated", { id: "b", name: "B2" }])
        assert.isTrue(BigInt(after.get("b")!.seq) > BigInt(before.get("c")!.seq))
        // A deletion keeps the record's last data; a deletion of an unknown record is nothing to tell.
        assert.deepStrictEqual([after.get("c")!.change, after.get("c")!.data], ["deleted", { id: "c", name: "C" }])
        assert.isFalse(after.has("never-seen"))
        assert.isFalse(after.has("d"), "a record that did not map stays out of the feed")
        assert.strictEqual(yield* records.count(c.tenantId, c.id, "customer"), 3)
        // The same payloads under a new mapping version are written again; a deleted record comes back as added.
        const remapped = yield* records.commitPage(
          pageOf(
            c,
            running,
            [upsert("a", { id: "a", name: "A", nested: { x: 1, y: [1, 2] } }), upsert("c", { id: "c", name: "C" })],
            {
              mappingVersion: 2
            }
          )
        )
        assert.deepStrictEqual(remapped, { fetched: 2, created: 0, updated: 2, unchanged: 0, deleted: 0, failed: 0 })
        const last = byId(yield* wholeFeed(c))
        assert.deepStrictEqual(
          [last.get("a")!.change, last.get("a")!.mappingVersion, last.get("c")!.change],
          ["updated", 2, "added"]
        )
        assert.strictEqual((yield* getJob(c, running.job.id)).total, 10)
      })
    )

    it.effect("a page under a claim that is not the job's current one writes nothing", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "square")
        const running = yield* runningJob(c, { mode: "full" })
        yield* records.commitPage(pageOf(c, running, [upsert("a", { id: "a", name: "A" })]))
        const before = yield* getJob(c, running.job.id)
        const stranger = { ...running, claim: newClaim() }
        const page = [upsert("a", { id: "a", name: "changed" }), upsert("b", { id: "b", name: "B" }), deletion("a")]
        yield* lostClaim(records.commitPage(pageOf(c, stranger, page, { checkpoint: checkpoint(9) })))
        yield* lostClaim(records.completeFullPass(pageOf(c, stranger, [])))
        yield* lostClaim(records.commitPage(pageOf(c, running, page, { tenantId: tenantB })))
        assert.deepStrictEqual(yield* getJob(c, running.job.id), before)
        const feed = yield* wholeFeed(c)
        assert.deepStrictEqual(
          feed.map((r) => [r.externalId, r.data]),
          [["a", { id: "a", name: "A" }]]
        )
        yield* store.finish(c.tenantId, running.job.id, running.claim, { status: "paused", error: "stopped" })
        yield* lostClaim(records.commitPage(pageOf(c, running, page)))
        assert.deepStrictEqual(yield* wholeFeed(c), feed)
      })
    )

    it.effect("a complete full pass deletes the entity's live records it did not see, and counts them", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "mailchimp")
        yield* syncedBy(c, [
          [upsert("a", { id: "a", name: "A" }), upsert("b", { id: "b", name: "B" })],
          [upsert("c", { id: "c", name: "C" }), upsert("gone", { id: "gone" }), upsert("bad", { id: "bad" }, 1)],
          [deletion("gone")]
        ])
        yield* syncedBy(c, [[upsert("p", { id: "p", name: "P" })]], { entityType: "product" })
        const before = byId(yield* wholeFeed(c))
        // The full pass sees a unchanged and c changed, over two pages; b and bad vanished at the provider.
        const full = yield* syncedBy(
          c,
          [[upsert("a", { id: "a", name: "A" })], [upsert("c", { id: "c", name: "C2" })]],
          { mode: "full", complete: true }
        )
        assert.strictEqual(full.gone, 2)
        assert.deepStrictEqual(full.job.counts, {
          fetched: 2,
          created: 0,
          updated: 1,
          unchanged: 1,
          deleted: 2,
          failed: 0
        })
        const after = byId(yield* wholeFeed(c))
        assert.deepStrictEqual([after.get("b")!.change, after.get("b")!.data], ["deleted", { id: "b", name: "B" }])
        assert.strictEqual(after.get("a")!.seq, before.get("a")!.seq)
        assert.strictEqual(after.get("gone")!.seq, before.get("gone")!.seq, "already deleted: not deleted again")
        assert.strictEqual(after.get("p")!.seq, before.get("p")!.seq, "another entity is not the pass's business")
        assert.strictEqual(yield* records.count(c.tenantId, c.id, "customer"), 2)
        assert.strictEqual(yield* records.count(c.tenantId, c.id, "product"), 1)
        // A full pass that sees nothing deletes everything left.
        const empty = yield* syncedBy(c, [[]], { mode: "full", complete: true })
        assert.strictEqual(empty.gone, 2)
        assert.strictEqual(yield* records.count(c.tenantId, c.id, "customer"), 0)
      })
    )

    it.effect("the feed: commit order after the cursor, per entity, valid data only, the tenant's own", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "quickbooks")
        yield* syncedBy(c, [[upsert("c1", { id: "c1", name: "one" }), upsert("bad", { id: "bad" }, 1)]])
        yield* syncedBy(c, [[upsert("i1", { id: "i1", name: "inv" })]], { entityType: "invoice" })
        yield* syncedBy(c, [[upsert("c2", { id: "c2", name: "two" })]])
        const all = yield* wholeFeed(c)
        assert.deepStrictEqual(
          all.map((r) => r.externalId),
          ["c1", "i1", "c2"]
        )
        for (let i = 1; i < all.length; i++) assert.isTrue(BigInt(all[i]!.seq) > BigInt(all[i - 1]!.seq))
        assert.deepStrictEqual(
          (yield* wholeFeed(c, Option.some("customer"))).map((r) => r.externalId),
          ["c1", "c2"]
        )
        const [first, ...rest] = all
        const page = yield* records.feed(c.tenantId, c.id, Option.none(), Option.some(first!.seq), 1)
        assert.deepStrictEqual(page, rest.slice(0, 1))
        assert.deepStrictEqual(
          yield* records.feed(c.tenantId, c.id, Option.none(), Option.some(all.at(-1)!.seq), 10),
          []
        )
        // The record that did not map enters the feed once a mapping version maps it.
        yield* syncedBy(
          c,
          [[{ ...upsert("bad", { id: "bad" }), mapped: { output: { id: "bad" }, warnings: [], errors: [] } }]],
          { mappingVersion: 2 }
        )
        const fixed = yield* records.feed(c.tenantId, c.id, Option.none(), Option.some(all.at(-1)!.seq), 10)
        assert.deepStrictEqual(
          fixed.map((r) => [r.externalId, r.data]),
          [["bad", { id: "bad" }]]
        )
        assert.deepStrictEqual(yield* records.feed(tenantB, c.id, Option.none(), Option.none(), 10), [])
        const d = yield* setUpConnection(tenantA, "quickbooks")
        assert.deepStrictEqual(yield* wholeFeed(d), [])
      })
    )

    it.effect("a consumer reading the feed by cursor between random pages ends with the final state (property)", () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<SyncStack>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(scenarioArb, (scenario) =>
              Effect.runPromiseWith(context)(
                Effect.gen(function* () {
                  const records = yield* SyncRecords
                  const c = yield* setUpConnection(tenantA, "square")
                  const running = yield* runningJob(c)
                  const model = new Map<string, { value: number; deleted: boolean }>()
                  const view = new Map<string, FeedRecord>()
                  let cursor = Option.none<string>()
                  let last = 0n
                  const read = (limit: number) =>
                    Effect.gen(function* () {
                      const page = yield* records.feed(c.tenantId, c.id, Option.none(), cursor, limit)
                      assert.isAtMost(page.length, limit)
                      for (const r of page) {
                        assert.isTrue(BigInt(r.seq) > last, "never repeats, never goes back")
                        last = BigInt(r.seq)
                        view.set(r.externalId, r)
                      }
                      if (page.length > 0) cursor = Option.some(page.at(-1)!.seq)
                      return page.length
                    })
                  for (const [n, { ops, reads }] of scenario.entries()) {
                    const expected = {
                      fetched: ops.length,
                      created: 0,
                      updated: 0,
                      unchanged: 0,
                      deleted: 0,
                      failed: 0
                    }
                    for (const op of ops) {
                      const before = model.get(op.id)
                      if (op.value === null) {
                        if (before === undefined || before.deleted) expected.unchanged++
                        else {
                          expected.deleted++
                          model.set(op.id, { ...before, deleted: true })
                        }
                        continue
                      }
                      if (op.value === 2) expected.failed++
                      if (before === undefined) expected.created++
                      else if (!before.deleted && before.value === op.value) expected.unchanged++
                      else expected.updated++
                      model.set(op.id, { value: op.value, deleted: false })
                    }
                    const counts = yield* records.commitPage(
                      pageOf(c, running, ops.map(writeOf), { checkpoint: checkpoint(n + 1) })
                    )
                    assert.deepStrictEqual(counts, expected)
                    for (const limit of reads) yield* read(limit)
                  }
                  while ((yield* read(3)) > 0) {}
                  // Every record whose last write mapped is seen as it is now; the others were never invented.
                  for (const [id, state] of model) {
                    if (state.value === 2) continue
                    const seen = view.get(id)
                    assert.isDefined(seen, id)
                    assert.deepStrictEqual(
                      [seen!.change === "deleted", seen!.data],
                      [state.deleted, { id, name: `v${state.value}` }],
                      id
                    )
                  }
                  for (const id of view.keys()) assert.isTrue(model.has(id))
                  // Read whole, each record is there once, at its last change.
                  const whole = yield* wholeFeed(c)
                  assert.strictEqual(new Set(whole.map((r) => r.externalId)).size, whole.length)
                  for (const r of whole) assert.deepStrictEqual(view.get(r.externalId), r)
                })
              )
            ),
            { numRuns: options.runs }
          )
        )
      })
    )

    it.effect("stored raws in external-id order, the newest samples, metadata keys and the live count", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "stripe")
        yield* syncedBy(c, [
          [
            upsert("cus_c", { id: "cus_c", name: "C", metadata: { tier: "gold" } }),
            upsert("cus_a", { id: "cus_a", name: "A", metadata: { tier: "silver", source: "pos" } }),
            upsert("cus_b", { id: "cus_b", name: "B", metadata: "none" })
          ],
          [upsert("cus_d", { id: "cus_d", name: "D", postal_code: "10115", metadata: { vip: "yes" } })],
          [deletion("cus_c")]
        ])
        const raws = yield* records.raws(c.tenantId, c.id, "customer", Option.none(), 2)
        assert.deepStrictEqual(
          raws.map((r) => r.externalId),
          ["cus_a", "cus_b"]
        )
        assert.deepStrictEqual(raws[0]!.raw, { id: "cus_a", name: "A", metadata: { tier: "silver", source: "pos" } })
        const rest = yield* records.raws(c.tenantId, c.id, "customer", Option.some("cus_b"), 10)
        assert.deepStrictEqual(
          rest.map((r) => [r.externalId, r.raw]),
          [["cus_d", { id: "cus_d", name: "D", postal_code: "10115", metadata: { vip: "yes" } }]]
        )
        const samples = yield* records.samples(c.tenantId, c.id, "customer", 2)
        // The newest change first (within a page the order is the store's).
        assert.strictEqual(samples.length, 2)
        assert.deepStrictEqual(samples[0], {
          raw: { id: "cus_d", name: "D", postal_code: "10115", metadata: { vip: "yes" } },
          data: { id: "cus_d", name: "D" }
        })
        assert.include(["cus_a", "cus_b"], (samples[1]!.data as { id: string }).id)
        assert.deepStrictEqual(
          [...(yield* records.metadataKeys(c.tenantId, c.id, "customer"))],
          ["source", "tier", "vip"]
        )
        assert.strictEqual(yield* records.count(c.tenantId, c.id, "customer"), 3)
        assert.deepStrictEqual(yield* records.raws(tenantB, c.id, "customer", Option.none(), 10), [])
        assert.deepStrictEqual(yield* records.samples(c.tenantId, c.id, "product", 10), [])
        assert.strictEqual(yield* records.count(tenantB, c.id, "customer"), 0)
      })
    )

    it.effect("the cursor: none before a pass, the watermark after, kept when a pass brings none", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "square")
        assert.isTrue(Option.isNone(yield* records.cursorOf(c.tenantId, c.id, "customer")))
        const watermark = new Date("2026-11-01T09:30:00.000Z")
        yield* records.saveCursor(c.tenantId, c.id, "customer", watermark, true)
        yield* records.saveCursor(c.tenantId, c.id, "customer", null, false)
        assert.deepStrictEqual(yield* records.cursorOf(c.tenantId, c.id, "customer"), Option.some(watermark))
        const later = new Date("2026-11-01T10:30:00.000Z")
        yield* records.saveCursor(c.tenantId, c.id, "customer", later, false)
        assert.deepStrictEqual(yield* records.cursorOf(c.tenantId, c.id, "customer"), Option.some(later))
        assert.isTrue(Option.isNone(yield* records.cursorOf(c.tenantId, c.id, "product")))
        assert.isTrue(Option.isNone(yield* records.cursorOf(tenantB, c.id, "customer")))
      })
    )
  })
