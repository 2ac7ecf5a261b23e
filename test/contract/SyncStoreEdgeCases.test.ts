import { assert, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { setUpConnection } from "../support/ConnectionSetup.ts"
import { tenantA } from "../support/Fixtures.ts"
import {
  deletion,
  jobRequest,
  memorySyncStack,
  newClaim,
  pageOf,
  postgresSyncStack,
  runningJob,
  upsert
} from "./SyncContractSupport.ts"

// Edge cases the contract suites found in the PostgreSQL adapters, pinned for both adapters.
for (const [name, stack] of [
  ["memory", memorySyncStack],
  ["postgres", postgresSyncStack]
] as const) {
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`sync store edge cases (${name})`, (it) => {
    it.effect("a page that lists a record twice commits, and the last one stands", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "stripe")
        const r = yield* runningJob(c)
        yield* records.commitPage(
          pageOf(c, r, [upsert("a", { id: "a", name: "1" }), upsert("a", { id: "a", name: "2" })])
        )
        const [raw] = yield* records.raws(c.tenantId, c.id, "customer", Option.none(), 10)
        assert.strictEqual(raw?.raw.name, "2")
      })
    )

    it.effect("a remap waits beside a waiting provider pass, not inside it", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const pass = yield* store.request(jobRequest(c))
        const remap = yield* store.request(jobRequest(c, { mode: "remap" }))
        assert.strictEqual(remap._tag, "created")
        assert.notStrictEqual(remap.job.id, pass.job.id)
        assert.strictEqual(remap.job.mode, "remap")
      })
    )

    it.effect("a running job delayed back to the queue while a request of its kind waits keeps its place", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const r = yield* runningJob(c)
        yield* store.request(jobRequest(c))
        yield* store.finish(c.tenantId, r.job.id, r.claim, {
          status: "queued",
          error: "rate limited",
          runAfter: new Date(Date.now() + 1_000)
        })
        const job = yield* store.get(c.tenantId, r.job.id)
        assert.strictEqual(Option.getOrThrow(job).status, "queued")
      })
    )

    it.effect("a deletion is told even of a record whose last mapping failed", () =>
      Effect.gen(function* () {
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "stripe")
        const r = yield* runningJob(c)
        yield* records.commitPage(pageOf(c, r, [upsert("a", { id: "a", name: "1" })]))
        const first = yield* records.feed(c.tenantId, c.id, Option.none(), Option.none(), 10)
        yield* records.commitPage(pageOf(c, r, [upsert("a", { id: "a", name: "2" }, 1)]))
        yield* records.commitPage(pageOf(c, r, [deletion("a")]))
        const after = yield* records.feed(c.tenantId, c.id, Option.none(), Option.some(first.at(-1)!.seq), 10)
        assert.deepStrictEqual(
          after.map((f) => f.change),
          ["deleted"]
        )
      })
    )

    it.effect("history pages of one job skip and repeat none, even of jobs created together", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const entities: ReadonlyArray<EntityType> = ["customer", "product", "order", "invoice", "payment", "contact"]
        for (let round = 0; round < 4; round++) {
          yield* Effect.forEach(
            entities.flatMap(
              (e) =>
                [
                  [e, "inbound"],
                  [e, "outbound"]
                ] as const
            ),
            ([entityType, direction]) => store.request(jobRequest(c, { entityType, direction })),
            { concurrency: "unbounded" }
          )
          yield* store.stop(c.tenantId, c.id, Option.none())
        }
        const q = { status: Option.none(), entityType: Option.none(), before: Option.none(), limit: 1000 }
        const all = yield* store.history(c.tenantId, c.id, q)
        const paged: Array<string> = []
        let before: Option.Option<{ createdAt: Date; id: string }> = Option.none()
        while (true) {
          const page = yield* store.history(c.tenantId, c.id, { ...q, before, limit: 1 })
          if (page.length === 0) break
          paged.push(page[0]!.id)
          before = Option.some({ createdAt: page[0]!.createdAt, id: page[0]!.id })
        }
        assert.deepStrictEqual(
          paged,
          all.map((j) => j.id)
        )
      })
    )

    it.effect("two claims of one kind at once: at most one runs", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        for (let i = 0; i < 8; i++) {
          const c = yield* setUpConnection(tenantA, "stripe")
          const a = yield* runningJob(c)
          const b = yield* store.request(jobRequest(c))
          yield* Effect.sleep(60)
          const [x, y] = yield* Effect.all(
            [store.claim(c.tenantId, a.job.id, newClaim(), 50), store.claim(c.tenantId, b.job.id, newClaim(), 50)],
            { concurrency: 2 }
          )
          assert.isFalse(typeof x !== "string" && typeof y !== "string", "both running")
        }
      })
    )
  })
}
