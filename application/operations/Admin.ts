import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { Unprocessable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { CostGroup, CostRange } from "../../domain/operations/CostRange.ts"
import type { Principal } from "../../domain/Principal.ts"
import { type Provider, providers } from "../../domain/Provider.ts"
import { entitiesFor, supportsPair } from "../../domain/sync/SupportedPairs.ts"
import { type Priority, priorities } from "../../domain/sync/SyncJob.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { OperationsStore } from "../../ports/operations/OperationsStore.ts"
import { SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { SyncQueue } from "../../ports/sync/SyncQueue.ts"
import { SyncEngineConfig } from "../sync/SyncEngine.ts"
import { SyncJobs } from "../sync/SyncJobs.ts"
import { WebhookEvents } from "../WebhookEvents.ts"
import { actingAdmin, byTenant, recordAction, scopeOf } from "./OperatorScope.ts"

export interface VenuesInput {
  readonly provider?: Provider | undefined
  readonly status?: string | undefined
  readonly healthStatus?: string | undefined
  readonly cursor?: string | undefined
  readonly limit: number
}

export interface ForceSyncInput {
  readonly venueId?: VenueId | undefined
  readonly provider?: Provider | undefined
  readonly entityTypes?: ReadonlyArray<EntityType> | undefined
}

export type ClearableStatus = "queued" | "failed" | "dead" | "paused"

export interface ClearQueueInput {
  readonly provider?: Provider | undefined
  readonly status?: ClearableStatus | undefined
  readonly priority?: Priority | undefined
  /** Only jobs created at least this many seconds ago. */
  readonly olderThanSeconds?: number | undefined
  readonly dryRun?: boolean | undefined
}

export interface DeadLetterInput {
  readonly kind?: "sync" | "webhook" | undefined
  readonly action: "requeue" | "discard"
  readonly provider?: Provider | undefined
  readonly olderThanSeconds?: number | undefined
  readonly ids?: ReadonlyArray<string> | undefined
  readonly dryRun?: boolean | undefined
}

/** How many rows one admin action considers at most; a larger backlog takes several calls. */
const actionLimit = 10_000

const venueCursor = (row: { readonly tenantId: string; readonly connectionId: string }) =>
  Buffer.from(`${row.tenantId}|${row.connectionId}`).toString("base64url")
const venueCursorFrom = (text: string) => {
  const [tenantId, connectionId] = Buffer.from(text, "base64url").toString("utf8").split("|")
  const uuid = /^[0-9a-f-]{36}$/
  return tenantId !== undefined && connectionId !== undefined && uuid.test(tenantId) && uuid.test(connectionId)
    ? { tenantId, connectionId }
    : undefined
}

/**
 * The admin routes: every connection with its health, the queue, force-sync, clearing the queue, dead letters and
 * stale jobs. A tenant `admin` acts on its tenant; an `operator` on every tenant (reads through the operator's
 * read path, writes tenant by tenant). Every action is recorded with who did it.
 */
export class Admin extends Context.Service<Admin>()("integration-service/application/operations/Admin", {
  make: Effect.gen(function* () {
    const store = yield* OperationsStore
    const jobStore = yield* SyncJobStore
    const syncJobs = yield* SyncJobs
    const queue = yield* SyncQueue
    const connections = yield* ConnectionStore
    const webhookEvents = yield* WebhookEvents
    const { staleAfter } = yield* SyncEngineConfig

    const ago = Effect.fnUntraced(function* (seconds: number | undefined) {
      if (seconds === undefined) return undefined
      return new Date((yield* Clock.currentTimeMillis) - seconds * 1000)
    })

    const allVenues = Effect.fn("Admin.allVenues")(function* (principal: Principal, input: VenuesInput) {
      const scope = yield* scopeOf(principal)
      const after = input.cursor === undefined ? undefined : venueCursorFrom(input.cursor)
      if (input.cursor !== undefined && after === undefined)
        return yield* new Unprocessable({ field: "cursor", message: "not a cursor this route gave out" })
      const rows = yield* store.venues(scope, { ...input, after, limit: input.limit + 1 })
      const page = rows.slice(0, input.limit)
      return { venues: page, nextCursor: rows.length > input.limit ? venueCursor(page.at(-1)!) : null }
    })

    /**
     * Connections by provider, status and current health; and per provider, the monitor's platform-wide verdict
     * (operational, or an outage since when: most of its connections failing together on its side) beside the
     * caller's connections of it and how many of those are failing (degraded or unhealthy) or need re-authorization.
     */
    const healthSummary = Effect.fn("Admin.healthSummary")(function* (principal: Principal) {
      const summary = yield* store.healthSummary(yield* scopeOf(principal))
      const verdicts = new Map((yield* store.providerHealth()).map((p) => [p.provider, p]))
      const providerView = providers.map((provider) => {
        const rows = summary.filter((r) => r.provider === provider && r.status !== "disconnected")
        const count = (healths: ReadonlyArray<string>) =>
          rows.filter((r) => healths.includes(r.healthStatus)).reduce((n, r) => n + r.connections, 0)
        const verdict = verdicts.get(provider)
        return {
          provider,
          status: verdict?.status ?? "operational",
          since: verdict?.since ?? null,
          connections: rows.reduce((n, r) => n + r.connections, 0),
          failing: count(["degraded", "unhealthy"]),
          needsReauth: count(["needs_reauth"])
        }
      })
      return { summary, providers: providerView }
    })

    /** Critical-priority incremental jobs now for every connected connection the filter names. */
    const forceSync = Effect.fn("Admin.forceSync")(function* (principal: Principal, input: ForceSyncInput) {
      const scope = yield* scopeOf(principal)
      const unsupported = (input.entityTypes ?? []).filter(
        (e) => input.provider !== undefined && !supportsPair(input.provider, e, "inbound")
      )
      if (unsupported.length > 0)
        return yield* new Unprocessable({
          field: "entityTypes",
          message: `${input.provider} syncs ${entitiesFor(input.provider!, "inbound").join(", ")}, not ${unsupported.join(", ")}`
        })
      const rows = (yield* store.venues(scope, {
        provider: input.provider,
        status: "connected",
        limit: actionLimit
      })).filter((r) => input.venueId === undefined || r.venueId === input.venueId)
      const at = yield* Clock.currentTimeMillis
      const requestedBy = `${principal.role}:${principal.userId}`
      const jobs: Array<{
        tenantId: TenantId
        venueId: string
        provider: Provider
        entityType: EntityType
        jobId: string
      }> = []
      for (const [tenantId, group] of byTenant(rows)) {
        const found = yield* connections.list(tenantId, Option.none())
        for (const row of group) {
          const connection = found.find((c) => c.id === row.connectionId)
          if (connection === undefined || connection.status !== "connected") continue
          const entities = (input.entityTypes ?? entitiesFor(connection.provider, "inbound")).filter((e) =>
            supportsPair(connection.provider, e, "inbound")
          )
          for (const entityType of new Set(entities)) {
            const job = yield* syncJobs.requestFor(
              connection,
              entityType,
              "incremental",
              `force:${at}:${connection.id}:${entityType}`,
              requestedBy,
              "critical"
            )
            jobs.push({ tenantId, venueId: row.venueId, provider: row.provider, entityType, jobId: job.id })
          }
        }
      }
      yield* recordAction(store, principal, scope, "force-sync", input, { jobs: jobs.length })
      return jobs
    })

    const clearQueue = Effect.fn("Admin.clearQueue")(function* (principal: Principal, input: ClearQueueInput) {
      const scope = yield* scopeOf(principal)
      const matched = yield* store.jobs(scope, {
        statuses: input.status === undefined ? ["queued", "failed", "dead", "paused"] : [input.status],
        provider: input.provider,
        priority: input.priority,
        createdBefore: yield* ago(input.olderThanSeconds),
        limit: actionLimit
      })
      let cleared = 0
      if (input.dryRun !== true) {
        for (const [tenantId, group] of byTenant(matched))
          cleared += yield* store.cancelJobs(
            tenantId,
            group.map((j) => j.id)
          )
        yield* recordAction(store, principal, scope, "clear-queue", input, { matched: matched.length, cleared })
      }
      return { matched: matched.length, cleared, dryRun: input.dryRun === true }
    })

    /** Dead sync jobs and dead webhook events: queued again (checkpoint kept) or discarded. */
    const processDeadLetters = Effect.fn("Admin.processDeadLetters")(function* (
      principal: Principal,
      input: DeadLetterInput
    ) {
      const scope = yield* scopeOf(principal)
      const before = yield* ago(input.olderThanSeconds)
      const named = (id: string) => input.ids === undefined || input.ids.includes(id)
      const sync =
        input.kind === "webhook"
          ? []
          : (yield* store.jobs(scope, {
              statuses: ["dead"],
              provider: input.provider,
              createdBefore: before,
              limit: actionLimit
            })).filter((j) => named(j.id))
      const webhook =
        input.kind === "sync"
          ? []
          : (yield* store.webhookDead(scope, { provider: input.provider, before, limit: actionLimit })).filter((e) =>
              named(e.id)
            )
      if (input.dryRun === true) return { sync: sync.length, webhook: webhook.length, dryRun: true }
      let syncDone = 0
      let webhookDone = 0
      for (const [tenantId, group] of byTenant(sync)) {
        if (input.action === "discard") {
          syncDone += yield* store.cancelJobs(
            tenantId,
            group.map((j) => j.id)
          )
          continue
        }
        for (const job of group) {
          const queued = yield* jobStore.retry(tenantId, job.connectionId as ConnectionId, Option.some(job.id))
          yield* Effect.forEach(queued, (j) => syncJobs.offerAgain(j))
          syncDone += queued.length
        }
      }
      for (const [tenantId, group] of byTenant(webhook)) {
        if (input.action === "discard") {
          webhookDone += yield* store.discardWebhooks(
            tenantId,
            group.map((e) => e.id),
            `${principal.role}:${principal.userId}`
          )
          continue
        }
        // The webhook event retry path (a tenant admin's), acting on this tenant.
        const acting = actingAdmin(principal, tenantId)
        for (const event of group)
          webhookDone += (yield* webhookEvents.retry(acting, event.provider, Option.some(event.id))).length
      }
      const result = { sync: syncDone, webhook: webhookDone, dryRun: false }
      yield* recordAction(store, principal, scope, `dead-letter-${input.action}`, input, result)
      return result
    })

    /**
     * Running jobs whose heartbeat stopped, offered to the queue again now (the worker's recovery loop does the same
     * every tick): a worker claims each with a fresh claim and goes on from its checkpoint; the old worker, should it
     * still live, loses its claim at its next page.
     */
    const recoverStale = Effect.fn("Admin.recoverStale")(function* (principal: Principal) {
      const scope = yield* scopeOf(principal)
      const stale = yield* store.jobs(scope, {
        statuses: ["running"],
        staleMillis: Duration.toMillis(staleAfter),
        limit: actionLimit
      })
      const at = yield* Clock.currentTimeMillis
      yield* Effect.forEach(stale, (job) =>
        queue.offer({ jobId: job.id, tenantId: job.tenantId, traceParent: null }, job.priority, {
          id: `${job.id}:${at}`
        })
      )
      const result = { recovered: stale.length, jobIds: stale.map((j) => j.id) }
      yield* recordAction(store, principal, scope, "recover-stale", {}, result)
      return result
    })

    const queueMetrics = Effect.fn("Admin.queueMetrics")(function* (principal: Principal) {
      const scope = yield* scopeOf(principal)
      const now = yield* Clock.currentTimeMillis
      const windowSeconds = 300
      const depth = yield* store.queueDepth(scope)
      const throughput = yield* store.throughput(scope, new Date(now - windowSeconds * 1000))
      return {
        queues: [...depth]
          .sort((a, b) => priorities.indexOf(a.priority) - priorities.indexOf(b.priority))
          .map((q) => ({
            priority: q.priority,
            status: q.status,
            depth: q.depth,
            oldestAgeSeconds: Math.max(0, Math.round((now - q.oldestAt.getTime()) / 1000))
          })),
        throughput: {
          windowSeconds,
          jobsFinished: throughput.jobsFinished,
          recordsFetched: throughput.recordsFetched
        },
        deadLetters: {
          sync: throughput.syncDead,
          webhook: throughput.webhookDead,
          total: throughput.syncDead + throughput.webhookDead
        }
      }
    })

    /**
     * What the integrations cost over a range of UTC days, by tenant, venue, provider or day, with the totals: the
     * call ledger prices each call (OPERATIONS_PRICES), counts QuickBooks' CorePlus quota use and adds the sync
     * workers' time (integration_costs, per tenant, connection and day).
     */
    const costs = Effect.fn("Admin.costs")(function* (principal: Principal, range: CostRange, groupBy: CostGroup) {
      const rows = yield* store.costs(yield* scopeOf(principal), range, groupBy)
      const sum = (key: "apiCalls" | "quotaCalls" | "workerMillis" | "costMicros") =>
        rows.reduce((n, r) => n + r[key], 0)
      return {
        ...range,
        groupBy,
        rows,
        totals: {
          apiCalls: sum("apiCalls"),
          quotaCalls: sum("quotaCalls"),
          workerMillis: sum("workerMillis"),
          costMicros: sum("costMicros")
        }
      }
    })

    return { allVenues, healthSummary, costs, forceSync, clearQueue, processDeadLetters, recoverStale, queueMetrics }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
