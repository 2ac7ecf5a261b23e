import { Clock, Config, Context, Duration, Effect, Layer, Option, Ref } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Checkpoint, SyncJob } from "../../domain/sync/SyncJob.ts"
import { planPass } from "../../domain/sync/SyncPlan.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { CallLedger } from "../../ports/operations/CallLedger.ts"
import { type DataCredential, type Page, ProviderData } from "../../ports/sync/ProviderData.ts"
import { type Finish, SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { type SyncMessage, SyncQueue } from "../../ports/sync/SyncQueue.ts"
import { type RecordWrite, SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { NeedsReauth } from "../NeedsReauth.ts"
import { CompiledMappings, type Mapping } from "./CompiledMappings.ts"
import { DataCredentials } from "./DataCredentials.ts"
import { OutboundPass } from "./OutboundPass.ts"
import { ProviderCalls } from "./ProviderCalls.ts"

export const SyncEngineConfig = Config.all({
  /** A running job whose heartbeat is older than this is taken over by another worker. */
  staleAfter: Config.Duration("SYNC_HEARTBEAT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
  heartbeatEvery: Config.Duration("SYNC_HEARTBEAT_INTERVAL").pipe(Config.withDefault(Duration.seconds(5))),
  /** Failed runs of one job (a take-over after its worker stopped, or an outage retries did not get through). */
  maxAttempts: Config.Int("SYNC_MAX_ATTEMPTS").pipe(Config.withDefault(10)),
  remapPage: Config.Int("SYNC_REMAP_PAGE").pipe(Config.withDefault(1_000))
})

/** How a run ends, before it is written: the job's next status and why. */
type Ending = Finish & { readonly log?: { readonly level: "info" | "warn" | "error"; readonly message: string } }

const failed = (message: string): Ending => ({ status: "failed", error: message, log: { level: "error", message } })
const paused = (message: string): Ending => ({ status: "paused", error: message, log: { level: "warn", message } })
const awaitingReauth = (message: string): Ending => ({ ...paused(message), awaitingReauth: true })
const completed: Ending = { status: "completed", error: null }

/**
 * Runs one sync job from its queue message: claim (fenced), then page by page — budget, breakers, retries around the
 * provider call, the compiled mapping, and one transaction per page for records and checkpoint — until the pass is
 * complete, the job is stopped, or it must wait (breaker open, 429 storm), pause (needs_reauth) or fail (403/404).
 * A worker that dies mid-job leaves the last committed checkpoint; whoever takes the job over resumes there.
 */
export class SyncEngine extends Context.Service<SyncEngine>()("integration-service/application/sync/SyncEngine", {
  make: Effect.gen(function* () {
    const config = yield* SyncEngineConfig
    const jobs = yield* SyncJobStore
    const records = yield* SyncRecords
    const queue = yield* SyncQueue
    const data = yield* ProviderData
    const calls = yield* ProviderCalls
    const credentials = yield* DataCredentials
    const connections = yield* ConnectionStore
    const compiledMappings = yield* CompiledMappings
    const outbound = yield* OutboundPass
    const reauth = yield* NeedsReauth
    // Where operations are recorded: worker time per job goes into the connection's daily costs.
    const ledger = yield* Effect.serviceOption(CallLedger)
    const staleMillis = Duration.toMillis(config.staleAfter)

    const mappingFor = (connection: Connection, entityType: EntityType) =>
      compiledMappings.current(connection, entityType, "inbound")

    const mapRecords = (mapping: Mapping, page: Page): ReadonlyArray<RecordWrite> =>
      page.records.map((r) => ({
        externalId: r.externalId,
        raw: r.raw,
        deleted: r.deleted,
        mapped: r.deleted ? null : mapping.apply(r.raw)
      }))

    /** One page of the job's pass: its records and the checkpoint after it, in one transaction under the claim. */
    const commit = (
      job: SyncJob,
      claim: string,
      mapping: Mapping,
      page: { readonly full: boolean; readonly records: ReadonlyArray<RecordWrite>; readonly total: number | null },
      checkpoint: Checkpoint
    ) =>
      records.commitPage({
        tenantId: job.tenantId as TenantId,
        connectionId: job.connectionId as ConnectionId,
        entityType: job.entityType,
        jobId: job.id,
        claim,
        mappingVersion: mapping.version,
        checkpoint,
        ...page
      })

    const laterOf = (a: string | null, b: Date | null): string | null =>
      b === null ? a : a === null || b.toISOString() > a ? b.toISOString() : a

    const connectionOf = Effect.fnUntraced(function* (job: SyncJob) {
      const found = yield* connections.find(job.tenantId as TenantId, job.venueId as VenueId, job.provider)
      return Option.filter(found, (c) => c.id === job.connectionId)
    })

    /**
     * One page from the provider under budget and breakers; a refused token is renewed once and the page asked
     * again. Answers the page or how the run must end.
     */
    const fetchPage = Effect.fnUntraced(function* (
      connection: Connection,
      job: SyncJob,
      checkpoint: Checkpoint,
      credential: Ref.Ref<DataCredential>
    ) {
      const adapter = data.adapter(connection.provider)
      const target = {
        provider: connection.provider,
        account: connection.accountId ?? connection.id,
        connectionId: connection.id
      }
      const read = Effect.flatMap(Ref.get(credential), (c) =>
        calls.call(
          target,
          `read_${job.entityType}`,
          adapter.page({
            entityType: job.entityType,
            credential: c,
            mode: checkpoint.mode === "full" ? "full" : "incremental",
            since: checkpoint.since === null ? null : new Date(checkpoint.since),
            cursor: checkpoint.cursor
          })
        )
      )
      return yield* read.pipe(
        Effect.catchIf(
          (e) => e._tag === "ProviderCallFailed" && e.kind === "unauthorized",
          () =>
            credentials.renewed(connection).pipe(
              Effect.tap((renewed) => Ref.set(credential, renewed)),
              Effect.andThen(read)
            )
        ),
        Effect.withSpan("SyncEngine.page", {
          attributes: { provider: connection.provider, "sync.entity": job.entityType, "sync.page": checkpoint.pages }
        })
      )
    })

    /** Turns what stopped a run into its ending; a second refusal of the token is needs_reauth. */
    const endingOf = Effect.fnUntraced(function* (connection: Connection, job: SyncJob, error: unknown) {
      const e = error as { _tag?: string; kind?: string; message?: string; reason?: string; retryAfterMillis?: number }
      const at = yield* Clock.currentTimeMillis
      switch (e._tag) {
        case "CallDelayed":
          return {
            status: "queued",
            // CallDelayed and ReauthorizationRequired say why in `reason`; their `message` is empty.
            error: e.reason ?? "delayed",
            runAfter: new Date(at + (e.retryAfterMillis ?? 1_000)),
            log: { level: "warn", message: `waiting ${e.retryAfterMillis} ms: ${e.reason}` }
          } satisfies Ending
        case "ReauthorizationRequired":
          return awaitingReauth(`${connection.provider} needs the venue to authorize again: ${e.reason}`)
        case "ProviderCallFailed":
          if (e.kind === "unauthorized") {
            yield* reauth.mark(
              { ...connection, connectionId: connection.id },
              { code: "unauthorized", message: e.message ?? "refused", source: "sync" }
            )
            return awaitingReauth(`${connection.provider} refused the credential after a renewal: ${e.message}`)
          }
          if (e.kind === "unavailable") {
            // Retries did not get through and no breaker is open yet: a failed run; the job tries again later,
            // until its failed runs reach the limit. (Runs the open breaker delays are not failures.)
            if (job.attempts + 1 >= config.maxAttempts)
              return {
                ...failed(`gave up after ${job.attempts + 1} failed runs: ${e.message}`),
                status: "dead",
                failedRun: true
              } satisfies Ending
            return {
              status: "queued",
              error: e.message ?? "unavailable",
              runAfter: new Date(at + Math.min(600_000, 1_000 * 2 ** job.attempts)),
              failedRun: true,
              log: { level: "warn", message: `provider unavailable, retrying later: ${e.message}` }
            } satisfies Ending
          }
          return failed(`${connection.provider} answered ${e.kind} for ${job.entityType}: ${e.message}`)
        default:
          return failed(e.message ?? String(error))
      }
    })

    /** The pass itself: page after page until complete, stopped or ended. */
    const inbound = Effect.fnUntraced(function* (
      job: SyncJob,
      claim: string,
      connection: Connection,
      stop: Ref.Ref<boolean>
    ) {
      const mapping = yield* mappingFor(connection, job.entityType)
      yield* jobs.started(job.tenantId as TenantId, job.id, claim, mapping.version)
      const tenantId = job.tenantId as TenantId
      let checkpoint: Checkpoint
      if (job.checkpoint === null || job.checkpoint.mode === "remap") {
        const watermark = yield* records.cursorOf(tenantId, connection.id, job.entityType)
        const now = new Date(yield* Clock.currentTimeMillis)
        const plan = planPass(
          connection.provider,
          job.mode === "full" ? "full" : "incremental",
          Option.getOrNull(watermark),
          now
        )
        if (plan.note !== null) yield* jobs.log(tenantId, job.id, "info", plan.note)
        checkpoint = {
          mode: plan.mode,
          since: plan.since?.toISOString() ?? null,
          cursor: null,
          watermark: null,
          pages: 0
        }
      } else {
        checkpoint = job.checkpoint
        yield* jobs.log(tenantId, job.id, "info", `resuming after page ${checkpoint.pages}`)
      }
      const credential = yield* Ref.make(yield* credentials.current(connection))
      while (!(checkpoint.pages > 0 && checkpoint.cursor === null)) {
        if (yield* Ref.get(stop)) return paused("stopped on request")
        const page = yield* fetchPage(connection, job, checkpoint, credential).pipe(
          Effect.catchTag("HistoryExpired", (e) => Effect.succeed({ expired: e.message } as const))
        )
        if ("expired" in page) {
          yield* jobs.log(tenantId, job.id, "info", `${page.expired}: syncing in full`)
          checkpoint = { mode: "full", since: null, cursor: null, watermark: null, pages: 0 }
          continue
        }
        const next: Checkpoint = {
          ...checkpoint,
          cursor: page.nextCursor,
          watermark: laterOf(checkpoint.watermark, page.watermark),
          pages: checkpoint.pages + 1
        }
        yield* commit(
          job,
          claim,
          mapping,
          { full: checkpoint.mode === "full", records: mapRecords(mapping, page), total: page.total },
          next
        )
        for (const note of page.notes) yield* jobs.log(tenantId, job.id, "info", note)
        checkpoint = next
      }
      const full = checkpoint.mode === "full"
      if (full) {
        const gone = yield* records.completeFullPass({
          tenantId,
          connectionId: connection.id,
          entityType: job.entityType,
          jobId: job.id,
          claim,
          mappingVersion: mapping.version
        })
        if (gone > 0) yield* jobs.log(tenantId, job.id, "info", `${gone} records not seen in a complete pass: deleted`)
      }
      yield* records.saveCursor(
        tenantId,
        connection.id,
        job.entityType,
        checkpoint.watermark === null ? null : new Date(checkpoint.watermark),
        full
      )
      return { status: "completed", error: null } satisfies Ending
    })

    /** A new mapping version over the stored raw payloads: no provider call, the same page commits. */
    const remap = Effect.fnUntraced(function* (
      job: SyncJob,
      claim: string,
      connection: Connection,
      stop: Ref.Ref<boolean>
    ) {
      const tenantId = job.tenantId as TenantId
      const mapping = yield* mappingFor(connection, job.entityType)
      yield* jobs.started(tenantId, job.id, claim, mapping.version)
      let checkpoint: Checkpoint = job.checkpoint ?? {
        mode: "remap",
        since: null,
        cursor: null,
        watermark: null,
        pages: 0
      }
      const total = yield* records.count(tenantId, connection.id, job.entityType)
      do {
        if (yield* Ref.get(stop)) return paused("stopped on request")
        const raws = yield* records.raws(
          tenantId,
          connection.id,
          job.entityType,
          Option.fromNullishOr(checkpoint.cursor),
          config.remapPage
        )
        const last = raws.at(-1)?.externalId ?? null
        const next: Checkpoint = {
          ...checkpoint,
          cursor: raws.length < config.remapPage ? null : last,
          pages: checkpoint.pages + 1
        }
        yield* commit(
          job,
          claim,
          mapping,
          {
            full: false,
            records: raws.map((r) => ({
              externalId: r.externalId,
              raw: r.raw,
              deleted: false,
              mapped: mapping.apply(r.raw)
            })),
            total
          },
          next
        )
        checkpoint = next
      } while (checkpoint.cursor !== null)
      return { status: "completed", error: null } satisfies Ending
    })

    /** Re-offers a job under a fresh message id (the store de-duplicates ids) to run after `delayMillis`. */
    const reoffer = (job: Pick<SyncJob, "id" | "tenantId" | "priority">, message: SyncMessage, delayMillis: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        queue.offer(message, job.priority, { id: `${job.id}:${at}`, delayMillis })
      )

    const run = Effect.fn("SyncEngine.run")(function* (message: SyncMessage) {
      const tenantId = message.tenantId as TenantId
      yield* Effect.annotateCurrentSpan({ "sync.job.id": message.jobId })
      const claim = crypto.randomUUID()
      const claimed = yield* jobs.claim(tenantId, message.jobId, claim, staleMillis)
      if (claimed === "not_runnable") return
      if (claimed === "busy" || claimed === "not_due") {
        const job = yield* jobs.get(tenantId, message.jobId)
        if (Option.isSome(job)) yield* reoffer(job.value, message, 2_000)
        return
      }
      const job = claimed
      const workStarted = yield* Clock.currentTimeMillis
      yield* Effect.annotateCurrentSpan({
        provider: job.provider,
        "sync.entity": job.entityType,
        "sync.mode": job.mode,
        "connection.id": job.connectionId
      })
      const stop = yield* Ref.make(job.stopRequested)
      const connection = yield* connectionOf(job)
      const work: Effect.Effect<Ending, unknown> = Option.match(connection, {
        onNone: () => Effect.succeed(failed("the connection is gone")),
        onSome: (c) =>
          c.status === "needs_reauth"
            ? Effect.succeed(awaitingReauth(`${c.provider} needs the venue to authorize again`))
            : c.status !== "connected"
              ? Effect.succeed(failed(`the connection is ${c.status}`))
              : (job.direction === "outbound"
                  ? Effect.map(outbound.run(job, claim, c, stop), (done) =>
                      done === "stopped" ? paused("stopped on request") : completed
                    )
                  : job.mode === "remap"
                    ? remap(job, claim, c, stop)
                    : inbound(job, claim, c, stop)
                ).pipe(Effect.catch((error) => endingOf(c, job, error)))
      })
      // The heartbeat keeps the claim alive and carries a stop request in; losing the claim ends the run at once.
      const heartbeat = Effect.gen(function* () {
        while (true) {
          yield* Effect.sleep(config.heartbeatEvery)
          const beat = yield* jobs.heartbeat(tenantId, job.id, claim)
          if (beat.stopRequested) yield* Ref.set(stop, true)
        }
      })
      const ending = yield* Effect.raceFirst(work, heartbeat as Effect.Effect<never, unknown>).pipe(
        Effect.catch((error) =>
          (error as { _tag?: string })._tag === "LostClaim" ? Effect.succeed(null) : Effect.fail(error)
        )
      )
      if (ending === null) return
      if (ending.log !== undefined) yield* jobs.log(tenantId, job.id, ending.log.level, ending.log.message)
      yield* jobs.finish(tenantId, job.id, claim, ending).pipe(Effect.catchTag("LostClaim", () => Effect.void))
      if (Option.isSome(ledger)) {
        const at = yield* Clock.currentTimeMillis
        yield* ledger.value.recordWork({ connectionId: job.connectionId, millis: at - workStarted, at })
      }
      if (ending.status === "queued") {
        const at = yield* Clock.currentTimeMillis
        yield* reoffer(job, message, Math.max(0, (ending.runAfter?.getTime() ?? at) - at))
      }
    })

    return { run }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
