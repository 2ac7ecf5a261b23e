import { Clock, Config, Context, Duration, Effect, Layer, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { ConnectionNotFound, Unprocessable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Principal } from "../../domain/Principal.ts"
import type { Provider } from "../../domain/Provider.ts"
import { type ConflictPolicy, defaultPolicy } from "../../domain/sync/ConflictPolicy.ts"
import { progressOf } from "../../domain/sync/Progress.ts"
import { entitiesFor, mappedEntities, supportsDirection, supportsPair } from "../../domain/sync/SupportedPairs.ts"
import type { JobMode, JobStatus, Priority, SyncDirection, SyncJob } from "../../domain/sync/SyncJob.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { OutboundRecords } from "../../ports/sync/OutboundRecords.ts"
import { type JobLog, type JobRequest, SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { SyncQueue } from "../../ports/sync/SyncQueue.ts"
import { SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { requireManage, requireRead } from "../Authorize.ts"
import { recordSyncRequest } from "../IdempotencyMetrics.ts"
import { traceParentOf } from "../ProcessWebhookEvent.ts"
import { SyncEngineConfig } from "./SyncEngine.ts"

export interface SyncRequestInput {
  readonly venueId: VenueId
  readonly entityTypes?: ReadonlyArray<EntityType> | undefined
  readonly mode?: "incremental" | "full" | undefined
  readonly direction?: SyncDirection | undefined
  readonly priority?: Priority | undefined
  readonly idempotencyKey?: string | undefined
}

export interface HistoryInput {
  readonly venueId: VenueId
  readonly status?: JobStatus | undefined
  readonly entityType?: EntityType | undefined
  readonly cursor?: string | undefined
  readonly limit: number
}

export interface FeedInput {
  readonly venueId: VenueId
  readonly entityType?: EntityType | undefined
  readonly cursor?: string | undefined
  readonly limit: number
}

/** A history page's cursor: the last job's creation time and id, opaque to clients. */
const cursorText = (job: SyncJob) => Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString("base64url")
const cursorFrom = (text: string) => {
  const [at, id] = Buffer.from(text, "base64url").toString("utf8").split("|")
  const createdAt = new Date(at ?? "")
  return id === undefined || Number.isNaN(createdAt.getTime()) ? undefined : { createdAt, id }
}

const minute = 60_000

/**
 * The sync use cases behind the five `/:provider/sync…` routes and the records feed, and the one way anything asks
 * for a job (the routes, the scheduler, webhook requests, a mapping change): a durable row first, then its queue
 * message, so a lost message is found again by the scheduler and a repeated request finds the same job.
 */
export class SyncJobs extends Context.Service<SyncJobs>()("integration-service/application/sync/SyncJobs", {
  make: Effect.gen(function* () {
    const store = yield* SyncJobStore
    const records = yield* SyncRecords
    const queue = yield* SyncQueue
    const connections = yield* ConnectionStore
    const outbound = yield* OutboundRecords
    const { staleAfter } = yield* SyncEngineConfig
    /** How long a platform change waits for the next ones before its outbound job is offered. */
    const platformDebounceMillis = Duration.toMillis(
      yield* Config.Duration("SYNC_OUTBOUND_DEBOUNCE").pipe(Config.withDefault(Duration.seconds(2)))
    )

    /** Offers the job's message; a failure is logged, not raised: the scheduler offers waiting jobs again. */
    const offer = Effect.fnUntraced(function* (job: SyncJob, id: string = job.id, delayMillis = 0) {
      const span = yield* Effect.option(Effect.currentSpan)
      yield* queue
        .offer(
          {
            jobId: job.id,
            tenantId: job.tenantId,
            traceParent: Option.match(span, { onNone: () => null, onSome: traceParentOf })
          },
          job.priority,
          { id, delayMillis }
        )
        .pipe(
          Effect.catchTag("QueueUnavailable", (e) =>
            Effect.logWarning("sync queue unavailable; the scheduler will offer the job again", e.message)
          )
        )
    })

    /**
     * Asks for one job; a new one is offered to the queue, after `delayMillis` when given (requests meanwhile coalesce
     * into it). Answers the job that will do the work.
     */
    const enqueue = Effect.fn("SyncJobs.enqueue")(function* (request: JobRequest, delayMillis = 0) {
      yield* Effect.annotateCurrentSpan({
        "sync.entity": request.entityType,
        "sync.mode": request.mode,
        "sync.direction": request.direction
      })
      const requested = yield* store.request(request)
      yield* recordSyncRequest(requested)
      if (requested._tag === "created") yield* offer(requested.job, requested.job.id, delayMillis)
      return requested.job
    })

    const connectionOf = Effect.fnUntraced(function* (principal: Principal, venueId: VenueId, provider: Provider) {
      const found = yield* connections.find(principal.tenantId, venueId, provider)
      if (Option.isNone(found) || found.value.status === "disconnected")
        return yield* new ConnectionNotFound({ provider, venueId })
      return found.value
    })

    const request = Effect.fn("SyncJobs.request")(function* (
      principal: Principal,
      provider: Provider,
      input: SyncRequestInput
    ) {
      yield* requireManage(principal, input.venueId)
      const direction = input.direction ?? "inbound"
      const offered = mappedEntities(provider).filter((e) => supportsDirection(provider, e, direction))
      const entityTypes = input.entityTypes ?? offered
      const unsupported = entityTypes.filter((e) => !supportsDirection(provider, e, direction))
      if (unsupported.length > 0)
        return yield* new Unprocessable({
          field: "entityTypes",
          message: `${provider} syncs ${offered.join(", ")} ${direction}, not ${unsupported.join(", ")}`
        })
      const connection = yield* connectionOf(principal, input.venueId, provider)
      if (connection.status !== "connected")
        return yield* new Unprocessable({
          field: "venueId",
          message: `the ${provider} connection is ${connection.status}; reconnect it first`
        })
      const mode = input.mode ?? "incremental"
      const at = yield* Clock.currentTimeMillis
      // Without a key, the same request within the same minute is the same request (a double click, a client retry).
      const base =
        input.idempotencyKey ??
        `auto:${principal.userId}:${connection.id}:${mode}:${input.priority ?? "normal"}:${Math.floor(at / minute)}`
      const directions = direction === "bidirectional" ? (["inbound", "outbound"] as const) : [direction]
      const pairs = [...new Set(entityTypes)].flatMap((entityType) => directions.map((d) => [entityType, d] as const))
      return yield* Effect.forEach(pairs, ([entityType, d]) =>
        enqueue({
          tenantId: principal.tenantId,
          connectionId: connection.id,
          venueId: input.venueId,
          provider,
          entityType,
          direction: d,
          mode,
          priority: input.priority ?? "normal",
          // Inbound keys stay as they were; an outbound job of the same request is another job.
          idempotencyKey: d === "inbound" ? `${base}:${entityType}` : `${base}:${entityType}:outbound`,
          requestedBy: principal.userId
        })
      )
    })

    /** A scheduled, webhook-asked or mapping-caused job for a connection known by id. */
    const requestFor = Effect.fn("SyncJobs.requestFor")(function* (
      connection: Connection,
      entityType: EntityType,
      mode: JobMode,
      idempotencyKey: string,
      requestedBy: string,
      priority: Priority = "normal",
      direction: "inbound" | "outbound" = "inbound"
    ) {
      return yield* enqueue({
        tenantId: connection.tenantId,
        connectionId: connection.id,
        venueId: connection.venueId,
        provider: connection.provider,
        entityType,
        direction,
        mode,
        priority,
        idempotencyKey,
        requestedBy
      })
    })

    /**
     * The platform changed records of the entity: an outbound job for every connection of the venue that takes it.
     * Offered after `debounceMillis`, so a burst of changes meanwhile coalesces into the one waiting job.
     */
    const platformChanged = Effect.fn("SyncJobs.platformChanged")(function* (
      tenantId: TenantId,
      venueId: VenueId,
      entityType: EntityType,
      requestedBy: string
    ) {
      const venueConnections = yield* connections.list(tenantId, Option.some([venueId]))
      const takers = venueConnections.filter(
        (c) => c.status === "connected" && supportsPair(c.provider, entityType, "outbound")
      )
      return yield* Effect.forEach(takers, (connection) =>
        enqueue(
          {
            tenantId,
            connectionId: connection.id,
            venueId,
            provider: connection.provider,
            entityType,
            direction: "outbound",
            mode: "incremental",
            priority: "normal",
            idempotencyKey: `platform-change:${crypto.randomUUID()}`,
            requestedBy
          },
          platformDebounceMillis
        )
      )
    })

    /** Each two-way entity's conflict policy: the saved one, else its default. */
    const policies = Effect.fn("SyncJobs.policies")(function* (
      principal: Principal,
      provider: Provider,
      venueId: VenueId
    ) {
      yield* requireRead(principal, venueId)
      const connection = yield* connectionOf(principal, venueId, provider)
      const saved = yield* outbound.policies(principal.tenantId, connection.id)
      return entitiesFor(provider, "outbound")
        .filter((e) => supportsDirection(provider, e, "bidirectional"))
        .map((entityType) => {
          const policy = saved.get(entityType)
          return { entityType, policy: policy ?? defaultPolicy(entityType), isDefault: policy === undefined }
        })
    })

    const setPolicy = Effect.fn("SyncJobs.setPolicy")(function* (
      principal: Principal,
      provider: Provider,
      input: { readonly venueId: VenueId; readonly entityType: EntityType; readonly policy: ConflictPolicy }
    ) {
      yield* requireManage(principal, input.venueId)
      if (!supportsDirection(provider, input.entityType, "bidirectional"))
        return yield* new Unprocessable({
          field: "entityType",
          message: `${provider} does not sync ${input.entityType} both ways: no conflict to resolve`
        })
      const connection = yield* connectionOf(principal, input.venueId, provider)
      yield* outbound.setPolicy(principal.tenantId, connection.id, input.entityType, input.policy, principal.userId)
      return yield* policies(principal, provider, input.venueId)
    })

    const stop = Effect.fn("SyncJobs.stop")(function* (
      principal: Principal,
      provider: Provider,
      venueId: VenueId,
      jobId: string | undefined
    ) {
      yield* requireManage(principal, venueId)
      const connection = yield* connectionOf(principal, venueId, provider)
      return yield* store.stop(principal.tenantId, connection.id, Option.fromNullishOr(jobId))
    })

    const retry = Effect.fn("SyncJobs.retry")(function* (
      principal: Principal,
      provider: Provider,
      venueId: VenueId,
      jobId: string | undefined
    ) {
      yield* requireManage(principal, venueId)
      const connection = yield* connectionOf(principal, venueId, provider)
      const queued = yield* store.retry(principal.tenantId, connection.id, Option.fromNullishOr(jobId))
      yield* Effect.forEach(queued, (job) => offerAgain(job))
      return queued
    })

    /** A job queued again needs a message under a new id: its first one was spent. */
    const offerAgain = Effect.fnUntraced(function* (job: SyncJob) {
      yield* offer(job, `${job.id}:${yield* Clock.currentTimeMillis}`)
    })

    /** After a reconnect: jobs paused for reauthorization go on from their checkpoints. */
    const resumePaused = Effect.fn("SyncJobs.resumePaused")(function* (tenantId: TenantId, connectionId: ConnectionId) {
      const queued = yield* store.resumePaused(tenantId, connectionId)
      yield* Effect.forEach(queued, (job) => offerAgain(job))
      return queued.length
    })

    const status = Effect.fn("SyncJobs.status")(function* (principal: Principal, provider: Provider, venueId: VenueId) {
      yield* requireRead(principal, venueId)
      const connection = yield* connectionOf(principal, venueId, provider)
      const { jobs, cursors, nextRunAt } = yield* store.latest(principal.tenantId, connection.id)
      const now = new Date(yield* Clock.currentTimeMillis)
      const staleMillis = Duration.toMillis(staleAfter)
      const stateOf = (job: SyncJob | undefined) => {
        const stale =
          job?.status === "running" &&
          job.heartbeatAt !== null &&
          now.getTime() - job.heartbeatAt.getTime() > staleMillis
        return job === undefined ? ("never_synced" as const) : stale ? ("stalled" as const) : job.status
      }
      const currentOf = (job: SyncJob | undefined) =>
        job !== undefined && (job.status === "running" || job.status === "queued")
          ? {
              id: job.id,
              mode: job.mode,
              status: job.status,
              priority: job.priority,
              startedAt: job.startedAt,
              ...progressOf(job.counts.fetched, job.total, job.startedAt, now)
            }
          : null
      return mappedEntities(provider).map((entityType) => {
        const job = jobs.find((j) => j.entityType === entityType && j.direction === "inbound")
        const pushed = jobs.find((j) => j.entityType === entityType && j.direction === "outbound")
        const cursor = cursors.find((c) => c.entityType === entityType)
        return {
          entityType,
          // The top-level state is the inbound side's; an entity only pushed says so.
          state: supportsPair(provider, entityType, "inbound") ? stateOf(job) : ("outbound_only" as const),
          lastSuccessAt: cursor?.lastSuccessAt ?? null,
          lastFullSyncAt: cursor?.lastFullAt ?? null,
          nextScheduledAt: nextRunAt,
          currentJob: currentOf(job),
          lastError: job?.lastError ?? null,
          // The platform's side, for the entities pushed to this provider.
          outbound: supportsPair(provider, entityType, "outbound")
            ? { state: stateOf(pushed), currentJob: currentOf(pushed), lastError: pushed?.lastError ?? null }
            : null
        }
      })
    })

    const history = Effect.fn("SyncJobs.history")(function* (
      principal: Principal,
      provider: Provider,
      input: HistoryInput
    ) {
      yield* requireRead(principal, input.venueId)
      const connection = yield* connectionOf(principal, input.venueId, provider)
      const before = input.cursor === undefined ? undefined : cursorFrom(input.cursor)
      if (input.cursor !== undefined && before === undefined)
        return yield* new Unprocessable({ field: "cursor", message: "not a cursor this route gave out" })
      const jobs = yield* store.history(principal.tenantId, connection.id, {
        status: Option.fromNullishOr(input.status),
        entityType: Option.fromNullishOr(input.entityType),
        before: Option.fromNullishOr(before),
        limit: input.limit + 1
      })
      const page = jobs.slice(0, input.limit)
      const logs = yield* store.logs(
        principal.tenantId,
        page.map((j) => j.id)
      )
      const none: ReadonlyArray<JobLog> = []
      return {
        jobs: page.map((job) => ({ job, logs: logs.get(job.id) ?? none })),
        nextCursor: jobs.length > input.limit ? cursorText(page.at(-1)!) : null
      }
    })

    const feed = Effect.fn("SyncJobs.feed")(function* (principal: Principal, provider: Provider, input: FeedInput) {
      yield* requireRead(principal, input.venueId)
      const connection = yield* connectionOf(principal, input.venueId, provider)
      if (input.cursor !== undefined && !/^\d{1,19}$/.test(input.cursor))
        return yield* new Unprocessable({ field: "cursor", message: "not a cursor this route gave out" })
      const page = yield* records.feed(
        principal.tenantId,
        connection.id,
        Option.fromNullishOr(input.entityType),
        Option.fromNullishOr(input.cursor),
        input.limit
      )
      return {
        records: page,
        // The last change read: following it never skips or repeats one (commit order, see SyncRecords).
        nextCursor: page.at(-1)?.seq ?? input.cursor ?? null
      }
    })

    return {
      request,
      requestFor,
      platformChanged,
      policies,
      setPolicy,
      stop,
      retry,
      resumePaused,
      status,
      history,
      feed,
      offerAgain
    }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
