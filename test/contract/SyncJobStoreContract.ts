import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { SyncJob } from "../../domain/sync/SyncJob.ts"
import { SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { SyncSchedule } from "../../ports/sync/SyncSchedule.ts"
import { setUpConnection } from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import {
  checkpoint,
  getJob,
  jobRequest,
  liveFor,
  newClaim,
  pageOf,
  runningJob,
  type SyncStack,
  upsert
} from "./SyncContractSupport.ts"

const stale = 50
const afterStale = Effect.sleep(stale * 3)

const lostClaim = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => assert.strictEqual(e._tag, "LostClaim"))

const ids = (jobs: ReadonlyArray<SyncJob>) => jobs.map((j) => j.id)

/** A job of `entityType` ended with `status` (stopped first when it should end cancelled). */
const endedJob = (c: Connection, entityType: EntityType, status: "completed" | "failed" | "dead" | "paused") =>
  Effect.gen(function* () {
    const store = yield* SyncJobStore
    const running = yield* runningJob(c, { entityType })
    yield* store.finish(c.tenantId, running.job.id, running.claim, { status, error: `${status} for a test` })
    return yield* getJob(c, running.job.id)
  })

/** What every SyncJobStore must do; the stack's SyncRecords and SyncSchedule write checkpoints, cursors and schedules. */
export const syncJobStoreContract = (name: string, stack: Layer.Layer<SyncStack>) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`SyncJobStore contract: ${name}`, (it) => {
    it.effect("a request makes a queued job; the same key again answers that job, whatever else it asks", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const request = jobRequest(c, { mode: "full", priority: "high", idempotencyKey: `key-${c.id}` })
        const created = yield* store.request(request)
        assert.strictEqual(created._tag, "created")
        const job = created.job
        assert.deepStrictEqual(
          {
            status: job.status,
            mode: job.mode,
            priority: job.priority,
            attempts: job.attempts,
            checkpoint: job.checkpoint,
            counts: job.counts,
            stopRequested: job.stopRequested,
            startedAt: job.startedAt,
            finishedAt: job.finishedAt,
            heartbeatAt: job.heartbeatAt,
            connectionId: job.connectionId,
            venueId: job.venueId,
            provider: job.provider,
            entityType: job.entityType,
            direction: job.direction,
            requestedBy: job.requestedBy
          },
          {
            status: "queued",
            mode: "full",
            priority: "high",
            attempts: 0,
            checkpoint: null,
            counts: { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0 },
            stopRequested: false,
            startedAt: null,
            finishedAt: null,
            heartbeatAt: null,
            connectionId: c.id,
            venueId: c.venueId,
            provider: "stripe",
            entityType: "customer",
            direction: "inbound",
            requestedBy: "contract"
          }
        )
        const again = yield* store.request({ ...request, entityType: "product", priority: "low", mode: "incremental" })
        assert.strictEqual(again._tag, "existing")
        assert.deepStrictEqual(again.job, job)
        // Even once it ran: the key still names it.
        const claimed = yield* store.claim(c.tenantId, job.id, newClaim(), liveFor)
        assert.notStrictEqual(typeof claimed, "string")
        const later = yield* store.request(request)
        assert.deepStrictEqual([later._tag, later.job.id, later.job.status], ["existing", job.id, "running"])
        assert.deepStrictEqual(
          Option.map(yield* store.get(c.tenantId, job.id), (j) => j.status),
          Option.some("running")
        )
        // Another tenant neither sees it nor shares its keys.
        assert.isTrue(Option.isNone(yield* store.get(tenantB, job.id)))
        const d = yield* setUpConnection(tenantB, "stripe")
        const theirs = yield* store.request(jobRequest(d, { idempotencyKey: request.idempotencyKey }))
        assert.strictEqual(theirs._tag, "created")
      })
    )

    it.effect("a request while one of its kind waits joins it: the higher priority and the fuller mode win", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "square")
        const first = yield* store.request(jobRequest(c, { priority: "low" }))
        const raised = yield* store.request(jobRequest(c, { priority: "high", mode: "full" }))
        assert.deepStrictEqual(
          [raised._tag, raised.job.id, raised.job.priority, raised.job.mode],
          ["coalesced", first.job.id, "high", "full"]
        )
        const kept = yield* store.request(jobRequest(c, { priority: "normal", mode: "incremental" }))
        assert.deepStrictEqual(
          [kept._tag, kept.job.id, kept.job.priority, kept.job.mode],
          ["coalesced", first.job.id, "high", "full"]
        )
        const stored = yield* getJob(c, first.job.id)
        assert.deepStrictEqual([stored.priority, stored.mode, stored.status], ["high", "full", "queued"])
        // Another entity or direction is another kind: a job of its own.
        const product = yield* store.request(jobRequest(c, { entityType: "product" }))
        const outbound = yield* store.request(jobRequest(c, { direction: "outbound" }))
        assert.deepStrictEqual([product._tag, outbound._tag], ["created", "created"])
        // Once the waiting job runs, a request waits as a new job (it may see changes the running pass missed).
        yield* store.claim(c.tenantId, first.job.id, newClaim(), liveFor)
        const next = yield* store.request(jobRequest(c))
        assert.strictEqual(next._tag, "created")
        assert.notStrictEqual(next.job.id, first.job.id)
      })
    )

    it.effect("a queued job is claimed once: running under the claim, a second claim is refused while it lives", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const { job } = yield* store.request(jobRequest(c))
        const claim = newClaim()
        const taken = yield* store.claim(c.tenantId, job.id, claim, liveFor)
        if (typeof taken === "string") return assert.fail(taken)
        // A first run is not a failed one: attempts count failed runs.
        assert.deepStrictEqual([taken.id, taken.status, taken.attempts], [job.id, "running", 0])
        assert.isNotNull(taken.startedAt)
        assert.isNotNull(taken.heartbeatAt)
        assert.isNull(taken.finishedAt)
        assert.strictEqual(yield* store.claim(c.tenantId, job.id, newClaim(), liveFor), "not_runnable")
        // The first claim still holds it.
        assert.deepStrictEqual(yield* store.heartbeat(c.tenantId, job.id, claim), { stopRequested: false })
        // Unknown, another tenant's, or ended: nothing to run.
        assert.strictEqual(yield* store.claim(c.tenantId, crypto.randomUUID(), newClaim(), liveFor), "not_runnable")
        assert.strictEqual(yield* store.claim(tenantB, job.id, newClaim(), 0), "not_runnable")
        yield* store.finish(c.tenantId, job.id, claim, { status: "completed", error: null })
        assert.strictEqual(yield* store.claim(c.tenantId, job.id, newClaim(), liveFor), "not_runnable")
        const cancelled = yield* store.request(jobRequest(c))
        yield* store.stop(c.tenantId, c.id, Option.some(cancelled.job.id))
        assert.strictEqual(yield* store.claim(c.tenantId, cancelled.job.id, newClaim(), liveFor), "not_runnable")
      })
    )

    it.effect("a running job whose heartbeat went stale is taken over; its first worker is fenced out", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const records = yield* SyncRecords
        const c = yield* setUpConnection(tenantA, "quickbooks")
        const first = yield* runningJob(c)
        yield* afterStale
        const second = newClaim()
        const taken = yield* store.claim(c.tenantId, first.job.id, second, stale)
        if (typeof taken === "string") return assert.fail(taken)
        // The run that stopped beating failed: it counts.
        assert.deepStrictEqual([taken.status, taken.attempts], ["running", 1])
        assert.strictEqual(taken.startedAt?.getTime(), first.job.startedAt?.getTime())
        const before = yield* getJob(c, first.job.id)
        // The first worker wakes up: nothing it does lands.
        yield* lostClaim(store.heartbeat(c.tenantId, first.job.id, first.claim))
        yield* lostClaim(store.started(c.tenantId, first.job.id, first.claim, 7))
        yield* lostClaim(records.commitPage(pageOf(c, first, [upsert("cus_1", { name: "A" })])))
        yield* lostClaim(records.completeFullPass({ ...pageOf(c, first, []) }))
        yield* lostClaim(store.finish(c.tenantId, first.job.id, first.claim, { status: "failed", error: "late" }))
        assert.deepStrictEqual(yield* getJob(c, first.job.id), before)
        assert.strictEqual((yield* records.feed(c.tenantId, c.id, Option.none(), Option.none(), 10)).length, 0)
        // The new claim works; a claim of another tenant is never valid.
        yield* store.started(c.tenantId, first.job.id, second, 3)
        assert.strictEqual((yield* getJob(c, first.job.id)).mappingVersion, 3)
        yield* lostClaim(store.heartbeat(tenantB, first.job.id, second))
        yield* store.finish(c.tenantId, first.job.id, second, { status: "completed", error: null })
        yield* lostClaim(store.heartbeat(c.tenantId, first.job.id, second))
        yield* lostClaim(store.finish(c.tenantId, first.job.id, second, { status: "completed", error: null }))
      })
    )

    it.effect("one job runs per connection × entity × direction: another is busy until it ends or goes stale", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const first = yield* runningJob(c)
        const { job: second } = yield* store.request(jobRequest(c, { mode: "full" }))
        assert.strictEqual(yield* store.claim(c.tenantId, second.id, newClaim(), liveFor), "busy")
        assert.strictEqual((yield* getJob(c, second.id)).status, "queued")
        // Other entities and directions run side by side.
        const product = yield* runningJob(c, { entityType: "product" })
        const outbound = yield* runningJob(c, { direction: "outbound" })
        assert.deepStrictEqual([product.job.status, outbound.job.status], ["running", "running"])
        yield* store.finish(c.tenantId, first.job.id, first.claim, { status: "completed", error: null })
        const taken = yield* store.claim(c.tenantId, second.id, newClaim(), liveFor)
        assert.strictEqual(typeof taken === "string" ? taken : taken.status, "running")
        // A dead worker's job does not hold the entity.
        const { job: third } = yield* store.request(jobRequest(c))
        assert.strictEqual(yield* store.claim(c.tenantId, third.id, newClaim(), liveFor), "busy")
        yield* afterStale
        const afterDeath = yield* store.claim(c.tenantId, third.id, newClaim(), stale)
        assert.strictEqual(typeof afterDeath === "string" ? afterDeath : afterDeath.status, "running")
      })
    )

    it.effect("a job put back with a later run_after is not due until then; finishing writes the ending", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "mailchimp")
        const running = yield* runningJob(c)
        yield* store.finish(c.tenantId, running.job.id, running.claim, {
          status: "queued",
          error: "rate limited",
          runAfter: new Date(Date.now() + 60_000)
        })
        const waiting = yield* getJob(c, running.job.id)
        // Delayed, not failed: no attempt counted.
        assert.deepStrictEqual(
          [waiting.status, waiting.lastError, waiting.finishedAt, waiting.heartbeatAt, waiting.attempts],
          ["queued", "rate limited", null, null, 0]
        )
        assert.strictEqual(yield* store.claim(c.tenantId, running.job.id, newClaim(), liveFor), "not_due")
        // The waiting job still takes requests of its kind.
        const joined = yield* store.request(jobRequest(c))
        assert.deepStrictEqual([joined._tag, joined.job.id], ["coalesced", running.job.id])

        const soon = yield* runningJob(c, { entityType: "contact" })
        yield* store.finish(c.tenantId, soon.job.id, soon.claim, {
          status: "queued",
          error: "provider unavailable",
          runAfter: new Date(Date.now() - 1_000),
          failedRun: true
        })
        const claim = newClaim()
        const again = yield* store.claim(c.tenantId, soon.job.id, claim, liveFor)
        if (typeof again === "string") return assert.fail(again)
        assert.strictEqual(again.attempts, 1)
        yield* store.finish(c.tenantId, soon.job.id, claim, { status: "failed", error: "403 forbidden" })
        const ended = yield* getJob(c, soon.job.id)
        assert.deepStrictEqual(
          [ended.status, ended.lastError, ended.heartbeatAt, ended.stopRequested],
          ["failed", "403 forbidden", null, false]
        )
        assert.isNotNull(ended.finishedAt)
      })
    )

    it.effect("stop cancels waiting jobs and asks running ones to pause; ended jobs are left alone", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const { job: waiting } = yield* store.request(jobRequest(c, { entityType: "product" }))
        const running = yield* runningJob(c)
        const done = yield* endedJob(c, "order", "completed")
        const touched = yield* store.stop(c.tenantId, c.id, Option.none())
        assert.deepStrictEqual([...ids(touched)].sort(), [waiting.id, running.job.id].sort())
        const cancelled = yield* getJob(c, waiting.id)
        assert.deepStrictEqual([cancelled.status, cancelled.stopRequested], ["cancelled", false])
        assert.isNotNull(cancelled.finishedAt)
        const asked = yield* getJob(c, running.job.id)
        assert.deepStrictEqual([asked.status, asked.stopRequested], ["running", true])
        assert.deepStrictEqual(yield* getJob(c, done.id), done)
        assert.deepStrictEqual(yield* store.heartbeat(c.tenantId, running.job.id, running.claim), {
          stopRequested: true
        })
        yield* store.finish(c.tenantId, running.job.id, running.claim, { status: "paused", error: "stopped" })
        const pausedJob = yield* getJob(c, running.job.id)
        assert.deepStrictEqual([pausedJob.status, pausedJob.stopRequested], ["paused", false])
        // One job by id; another connection's job or tenant is not touched.
        const other = yield* store.request(jobRequest(c, { entityType: "invoice" }))
        const second = yield* store.request(jobRequest(c, { entityType: "payment" }))
        assert.deepStrictEqual(ids(yield* store.stop(c.tenantId, c.id, Option.some(other.job.id))), [other.job.id])
        assert.strictEqual((yield* getJob(c, second.job.id)).status, "queued")
        const d = yield* setUpConnection(tenantA, "stripe")
        assert.deepStrictEqual(yield* store.stop(c.tenantId, d.id, Option.some(second.job.id)), [])
        assert.deepStrictEqual(yield* store.stop(tenantB, c.id, Option.none()), [])
        assert.strictEqual((yield* getJob(c, second.job.id)).status, "queued")
      })
    )

    it.effect(
      "retry queues failed, dead and paused jobs again with their checkpoint, unless one of the kind waits",
      () =>
        Effect.gen(function* () {
          const store = yield* SyncJobStore
          const records = yield* SyncRecords
          const c = yield* setUpConnection(tenantA, "square")
          const running = yield* runningJob(c)
          yield* records.commitPage(pageOf(c, running, [upsert("sq_1", { name: "A" })], { checkpoint: checkpoint(1) }))
          yield* store.finish(c.tenantId, running.job.id, running.claim, {
            status: "failed",
            error: "boom",
            failedRun: true
          })
          const dead = yield* endedJob(c, "product", "dead")
          const paused = yield* endedJob(c, "order", "paused")
          const completed = yield* endedJob(c, "invoice", "completed")
          const queued = yield* store.retry(c.tenantId, c.id, Option.none())
          assert.deepStrictEqual([...ids(queued)].sort(), [running.job.id, dead.id, paused.id].sort())
          const again = yield* getJob(c, running.job.id)
          assert.deepStrictEqual(
            [again.status, again.lastError, again.finishedAt, again.attempts],
            ["queued", null, null, 1]
          )
          assert.deepStrictEqual(again.checkpoint, checkpoint(1))
          assert.deepStrictEqual(again.counts.created, 1)
          assert.deepStrictEqual(yield* getJob(c, completed.id), completed)
          const taken = yield* store.claim(c.tenantId, running.job.id, newClaim(), liveFor)
          assert.strictEqual(typeof taken === "string" ? taken : taken.status, "running")

          // A waiting job of the same kind runs instead; of two failed jobs of a kind only the older is queued.
          const d = yield* setUpConnection(tenantA, "square")
          const older = yield* endedJob(d, "customer", "failed")
          const newer = yield* endedJob(d, "customer", "failed")
          assert.deepStrictEqual(ids(yield* store.retry(d.tenantId, d.id, Option.none())), [older.id])
          assert.strictEqual((yield* getJob(d, newer.id)).status, "failed")
          assert.deepStrictEqual(yield* store.retry(d.tenantId, d.id, Option.some(newer.id)), [])
          // By id: only that job; not another tenant's.
          const product = yield* endedJob(d, "product", "failed")
          const order = yield* endedJob(d, "order", "failed")
          assert.deepStrictEqual(yield* store.retry(tenantB, d.id, Option.some(product.id)), [])
          assert.deepStrictEqual(ids(yield* store.retry(d.tenantId, d.id, Option.some(product.id))), [product.id])
          assert.strictEqual((yield* getJob(d, order.id)).status, "failed")
        })
    )

    it.effect("resumePaused queues only the jobs paused awaiting reauthorization", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const schedule = yield* SyncSchedule
        const c = yield* setUpConnection(tenantA, "quickbooks")
        const reauth = yield* runningJob(c)
        yield* store.finish(c.tenantId, reauth.job.id, reauth.claim, {
          status: "paused",
          error: "needs reauth",
          awaitingReauth: true
        })
        const stopped = yield* endedJob(c, "product", "paused")
        const failed = yield* endedJob(c, "order", "failed")
        const reconnected = yield* schedule.reconnected(1_000)
        assert.isTrue(reconnected.some((r) => r.connectionId === c.id && r.tenantId === c.tenantId))
        assert.deepStrictEqual(ids(yield* store.resumePaused(c.tenantId, c.id)), [reauth.job.id])
        assert.strictEqual((yield* getJob(c, reauth.job.id)).status, "queued")
        assert.strictEqual((yield* getJob(c, stopped.id)).status, "paused")
        assert.strictEqual((yield* getJob(c, failed.id)).status, "failed")
        assert.isFalse((yield* schedule.reconnected(1_000)).some((r) => r.connectionId === c.id))
        assert.deepStrictEqual(yield* store.resumePaused(c.tenantId, c.id), [])
        // Run again and refused again: awaiting once more.
        const claim = newClaim()
        yield* store.claim(c.tenantId, reauth.job.id, claim, liveFor)
        yield* store.finish(c.tenantId, reauth.job.id, claim, { status: "completed", error: null })
        assert.deepStrictEqual(yield* store.resumePaused(c.tenantId, c.id), [])
      })
    )

    it.effect("history is newest first, filtered, and its keyset pages join up to the whole list", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const entities: ReadonlyArray<EntityType> = ["customer", "product", "order", "invoice", "payment", "contact"]
        for (const entityType of entities) {
          yield* endedJob(c, entityType, "completed")
          yield* endedJob(c, entityType, "failed")
        }
        // Created at once, as POST /sync does for several entity types.
        yield* Effect.forEach(entities, (entityType) => store.request(jobRequest(c, { entityType })), {
          concurrency: "unbounded"
        })
        const query = { status: Option.none(), entityType: Option.none(), before: Option.none(), limit: 100 }
        const all = yield* store.history(c.tenantId, c.id, query)
        assert.strictEqual(all.length, 18)
        for (let i = 1; i < all.length; i++) {
          const [a, b] = [all[i - 1]!, all[i]!]
          assert.isTrue(
            a.createdAt.getTime() > b.createdAt.getTime() ||
              (a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id),
            "newest first, then by id"
          )
        }
        for (const limit of [1, 2, 5]) {
          const pages: Array<SyncJob> = []
          let before: Option.Option<{ createdAt: Date; id: string }> = Option.none()
          for (;;) {
            const page = yield* store.history(c.tenantId, c.id, { ...query, before, limit })
            pages.push(...page)
            if (page.length < limit) break
            before = Option.some({ createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id })
          }
          assert.deepStrictEqual(ids(pages), ids(all), `pages of ${limit}`)
        }
        const failed = yield* store.history(c.tenantId, c.id, { ...query, status: Option.some("failed") })
        assert.deepStrictEqual(ids(failed), ids(all.filter((j) => j.status === "failed")))
        const products = yield* store.history(c.tenantId, c.id, { ...query, entityType: Option.some("product") })
        assert.deepStrictEqual(ids(products), ids(all.filter((j) => j.entityType === "product")))
        assert.deepStrictEqual(yield* store.history(tenantB, c.id, query), [])
      })
    )

    it.effect(
      "latest answers per entity and direction the waiting or running job first, the cursors, the schedule",
      () =>
        Effect.gen(function* () {
          const store = yield* SyncJobStore
          const records = yield* SyncRecords
          const schedule = yield* SyncSchedule
          const c = yield* setUpConnection(tenantA, "stripe")
          assert.deepStrictEqual(yield* store.latest(c.tenantId, c.id), { jobs: [], cursors: [], nextRunAt: null })
          yield* endedJob(c, "customer", "completed")
          const running = yield* runningJob(c)
          // Newer, but ended: the running job still answers for the entity.
          const newerDone = yield* store.request(jobRequest(c))
          yield* store.stop(c.tenantId, c.id, Option.some(newerDone.job.id))
          yield* endedJob(c, "product", "failed")
          const newestProduct = yield* endedJob(c, "product", "completed")
          const outbound = yield* store.request(jobRequest(c, { direction: "outbound" }))
          const latest = yield* store.latest(c.tenantId, c.id)
          assert.deepStrictEqual(
            latest.jobs.map((j) => [j.entityType, j.direction, j.id]),
            [
              ["customer", "inbound", running.job.id],
              ["customer", "outbound", outbound.job.id],
              ["product", "inbound", newestProduct.id]
            ]
          )
          const watermark = new Date("2026-11-01T09:00:00.000Z")
          const start = Date.now()
          yield* records.saveCursor(c.tenantId, c.id, "customer", watermark, true)
          yield* records.saveCursor(c.tenantId, c.id, "product", null, false)
          const { cursors } = yield* store.latest(c.tenantId, c.id)
          const byEntity = [...cursors].sort((a, b) => a.entityType.localeCompare(b.entityType))
          assert.deepStrictEqual(
            byEntity.map((x) => [x.entityType, x.watermark?.toISOString() ?? null, x.lastFullAt !== null]),
            [
              ["customer", watermark.toISOString(), true],
              ["product", null, false]
            ]
          )
          for (const x of byEntity) assert.isAtLeast(x.lastSuccessAt!.getTime(), start - 1_000)
          // The scheduler's first look makes the connection due; the one it hands out moves an interval on.
          const due = yield* schedule.claimDue(3_600_000, 10_000)
          assert.isTrue(due.some((d) => d.connectionId === c.id && d.tenantId === c.tenantId))
          const { nextRunAt } = yield* store.latest(c.tenantId, c.id)
          assert.isNotNull(nextRunAt)
          assert.approximately(nextRunAt!.getTime(), Date.now() + 3_600_000, 60_000)
          assert.isFalse((yield* schedule.claimDue(3_600_000, 10_000)).some((d) => d.connectionId === c.id))
          assert.deepStrictEqual(yield* store.latest(tenantB, c.id), { jobs: [], cursors: [], nextRunAt: null })
        })
    )

    it.effect("logs read back per job in order, with their details", () =>
      Effect.gen(function* () {
        const store = yield* SyncJobStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const first = yield* runningJob(c)
        const second = yield* runningJob(c, { entityType: "product" })
        yield* store.log(c.tenantId, first.job.id, "info", "resuming after page 2")
        yield* store.log(c.tenantId, second.job.id, "warn", "waiting 1000 ms", { retryAfter: 1000, nested: [1, "a"] })
        yield* store.log(c.tenantId, first.job.id, "error", "gave up")
        const logs = yield* store.logs(c.tenantId, [first.job.id, second.job.id, crypto.randomUUID()])
        assert.deepStrictEqual(
          logs.get(first.job.id)?.map((l) => [l.level, l.message, l.details]),
          [
            ["info", "resuming after page 2", null],
            ["error", "gave up", null]
          ]
        )
        assert.deepStrictEqual(
          logs.get(second.job.id)?.map((l) => [l.level, l.message, l.details]),
          [["warn", "waiting 1000 ms", { retryAfter: 1000, nested: [1, "a"] }]]
        )
        assert.strictEqual(logs.size, 2)
        assert.strictEqual((yield* store.logs(c.tenantId, [])).size, 0)
        assert.strictEqual((yield* store.logs(tenantB, [first.job.id])).size, 0)
      })
    )
  })
