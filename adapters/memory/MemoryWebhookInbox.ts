import { Clock, Context, Duration, Effect, Layer, Option, Semaphore } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { payloadOfBody } from "../../domain/WebhookEvent.ts"
import {
  type Applied,
  type ApplyOutcome,
  type EventFilter,
  type InboxEntry,
  InboxEvent,
  type InboxStatus,
  InboxUnavailable,
  type PendingEvent,
  type StoredCopy,
  type StoreOutcome,
  WebhookInbox
} from "../../ports/WebhookInbox.ts"
import { type AccountRoute, MemoryWebhookRoutes } from "./MemoryWebhookRoutes.ts"

/** An authentic delivery that belongs to no tenant. */
export interface QuarantinedDelivery {
  readonly provider: Provider
  readonly reason: "unroutable" | "rejected"
  readonly eventId: string | null
  readonly detail: string | null
  readonly body: Uint8Array
}

/** Shows tests what the memory inbox kept aside (the service role cannot read `webhook_quarantine` either). */
export class MemoryWebhookInboxControl extends Context.Service<
  MemoryWebhookInboxControl,
  { readonly quarantined: Effect.Effect<ReadonlyArray<QuarantinedDelivery>> }
>()("integration-service/adapters/memory/MemoryWebhookInboxControl") {}

interface Row {
  readonly id: string
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly provider: Provider
  readonly eventId: string
  readonly type: string
  readonly status: InboxStatus
  readonly accountId: string | null
  readonly attempts: number
  readonly lastError: string | null
  readonly occurredAt: Date | null
  readonly receivedAt: Date
  readonly processedAt: Date | null
  readonly payload: unknown
  readonly traceParent: string | null
  readonly requeues: number
}

const toEvent = (row: Row) =>
  new InboxEvent({
    id: row.id,
    tenantId: row.tenantId,
    connectionId: row.connectionId,
    provider: row.provider,
    eventId: row.eventId,
    type: row.type,
    status: row.status,
    accountId: row.accountId,
    attempts: row.attempts,
    lastError: row.lastError,
    occurredAt: row.occurredAt,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt,
    payload: row.payload as InboxEvent["payload"]
  })

const toPending = (row: Row): PendingEvent => ({
  id: row.id,
  tenantId: row.tenantId,
  provider: row.provider,
  requeues: row.requeues,
  traceParent: row.traceParent
})

const encodeCursor = (receivedAt: Date, id: string) =>
  Buffer.from(`${receivedAt.toISOString()}|${id}`, "utf8").toString("base64url")

const decodeCursor = (cursor: string): readonly [number, string] | undefined => {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|")
  const ms = at === undefined ? Number.NaN : Date.parse(at)
  return id !== undefined && !Number.isNaN(ms) ? [ms, id] : undefined
}

/** Newest first: received_at DESC, id DESC. */
const newestFirst = (a: Row, b: Row) =>
  b.receivedAt.getTime() - a.receivedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

const settled = (status: InboxStatus) => status === "processed" || status === "ignored"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const make = Effect.gen(function* () {
  const routes = yield* MemoryWebhookRoutes
  const rows = new Map<string, Row>()
  const byEvent = new Map<string, string>()
  const quarantine: Array<QuarantinedDelivery> = []
  const locks = new Map<string, Semaphore.Semaphore>()

  const lock = (id: string) => {
    let semaphore = locks.get(id)
    if (semaphore === undefined) {
      semaphore = Semaphore.makeUnsafe(1)
      locks.set(id, semaphore)
    }
    return semaphore.withPermits(1)
  }

  const quarantineOnce = (delivery: QuarantinedDelivery) => {
    const seen =
      delivery.eventId !== null &&
      quarantine.some((q) => q.provider === delivery.provider && q.eventId === delivery.eventId)
    if (!seen) quarantine.push(delivery)
  }

  /** An event with an endpoint goes to that endpoint's connection only; otherwise to every one of its account's. */
  const route = (entry: InboxEntry): ReadonlyArray<AccountRoute> => {
    if (entry.endpoint !== null) return Option.toArray(routes.byEndpoint(entry.provider, entry.endpoint))
    return entry.accountId === null ? [] : routes.byAccount(entry.provider, entry.accountId)
  }

  const parse = (entry: InboxEntry) =>
    Effect.try({
      try: () => ({
        payload: payloadOfBody(entry.provider, entry.body),
        occurredAt: entry.occurredAt === null ? null : new Date(entry.occurredAt)
      }),
      catch: () => new InboxUnavailable({ message: "the event's payload is not JSON" })
    }).pipe(
      Effect.filterOrFail(
        (parsed) => parsed.occurredAt === null || !Number.isNaN(parsed.occurredAt.getTime()),
        () => new InboxUnavailable({ message: "the event's time does not parse" })
      )
    )

  const store = Effect.fn("MemoryWebhookInbox.store")(function* (entry: InboxEntry) {
    const parsed = yield* parse(entry)
    const routed = route(entry)
    if (routed.length === 0) {
      quarantineOnce({
        provider: entry.provider,
        reason: "unroutable",
        eventId: entry.eventId,
        detail: null,
        body: new TextEncoder().encode(JSON.stringify(parsed.payload))
      })
      return [] satisfies StoreOutcome
    }
    const receivedAt = yield* now
    return routed.map(({ tenantId, connectionId }): StoredCopy => {
      const unique = `${tenantId}|${connectionId}|${entry.provider}|${entry.eventId}`
      if (byEvent.has(unique)) return { _tag: "Duplicate", tenantId, connectionId }
      const id = crypto.randomUUID()
      rows.set(id, {
        id,
        tenantId,
        connectionId,
        provider: entry.provider,
        eventId: entry.eventId,
        type: entry.type,
        status: "received",
        accountId: entry.accountId,
        attempts: 0,
        lastError: null,
        occurredAt: parsed.occurredAt,
        receivedAt,
        processedAt: null,
        payload: parsed.payload,
        traceParent: entry.traceParent,
        requeues: 0
      })
      byEvent.set(unique, id)
      return { _tag: "Stored", id, tenantId, connectionId }
    })
  })

  const reject = (provider: Provider, detail: string, raw: Uint8Array) =>
    Effect.sync(() => {
      quarantine.push({ provider, reason: "rejected", eventId: null, detail, body: raw.slice() })
    }).pipe(Effect.withSpan("MemoryWebhookInbox.reject"))

  const endpoint = (provider: Provider, publicId: string) =>
    Effect.sync(() => routes.byEndpoint(provider, publicId)).pipe(Effect.withSpan("MemoryWebhookInbox.endpoint"))

  const pending = Effect.fn("MemoryWebhookInbox.pending")(function* (olderThan: Duration.Duration, limit: number) {
    const cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(olderThan)
    return [...rows.values()]
      .filter((row) => row.status === "received" && row.receivedAt.getTime() < cutoff)
      .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())
      .slice(0, limit)
      .map(toPending)
  })

  const ownRow = (tenantId: TenantId, id: string) => {
    const row = rows.get(id)
    return row !== undefined && row.tenantId === tenantId ? row : undefined
  }

  const apply = <E, R>(
    tenantId: TenantId,
    id: string,
    handler: (event: InboxEvent) => Effect.Effect<Applied, E, R>
  ): Effect.Effect<ApplyOutcome, E | InboxUnavailable, R> =>
    lock(id)(
      Effect.gen(function* () {
        const row = ownRow(tenantId, id)
        if (row === undefined) return "missing" as const
        if (settled(row.status)) return "settled" as const
        const applied = yield* handler(toEvent(row))
        const current = rows.get(id) ?? row
        rows.set(id, {
          ...current,
          status: applied,
          attempts: current.attempts + 1,
          lastError: null,
          processedAt: yield* now
        })
        return applied
      })
    ).pipe(Effect.withSpan("MemoryWebhookInbox.apply", { attributes: { "webhook.inbox_id": id } }))

  const recordFailure = (tenantId: TenantId, id: string, error: string, dead: boolean) =>
    Effect.sync(() => {
      const row = ownRow(tenantId, id)
      if (row === undefined || settled(row.status)) return
      rows.set(id, {
        ...row,
        status: dead ? "dead" : "failed",
        attempts: row.attempts + 1,
        lastError: error.slice(0, 2000)
      })
    }).pipe(Effect.withSpan("MemoryWebhookInbox.recordFailure"))

  const list = (tenantId: TenantId, provider: Provider, filter: EventFilter) =>
    Effect.sync(() => {
      const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor)
      const matching = [...rows.values()]
        .filter(
          (row) =>
            row.tenantId === tenantId &&
            row.provider === provider &&
            (filter.status === undefined || row.status === filter.status) &&
            (filter.type === undefined || row.type === filter.type) &&
            (after === undefined ||
              row.receivedAt.getTime() < after[0] ||
              (row.receivedAt.getTime() === after[0] && row.id < after[1]))
        )
        .sort(newestFirst)
      const events = matching.slice(0, filter.limit).map(toEvent)
      const last = events[events.length - 1]
      return {
        events,
        next: matching.length > filter.limit && last !== undefined ? encodeCursor(last.receivedAt, last.id) : null
      }
    }).pipe(Effect.withSpan("MemoryWebhookInbox.list"))

  const requeue = (tenantId: TenantId, provider: Provider, id: Option.Option<string>) =>
    Effect.sync(() => {
      const requeued: Array<PendingEvent> = []
      for (const row of rows.values()) {
        if (row.tenantId !== tenantId || row.provider !== provider) continue
        if (row.status !== "failed" && row.status !== "dead") continue
        if (Option.isSome(id) && row.id !== id.value) continue
        const next: Row = { ...row, status: "received", attempts: 0, lastError: null, requeues: row.requeues + 1 }
        rows.set(row.id, next)
        requeued.push(toPending(next))
      }
      return requeued
    }).pipe(Effect.withSpan("MemoryWebhookInbox.requeue"))

  const inbox = WebhookInbox.of({ store, reject, endpoint, pending, apply, recordFailure, list, requeue })
  const control = MemoryWebhookInboxControl.of({ quarantined: Effect.sync(() => [...quarantine]) })
  return Context.make(WebhookInbox, inbox).pipe(Context.add(MemoryWebhookInboxControl, control))
})

/**
 * The webhook inbox in process memory, routing through MemoryWebhookRoutes. Each call is one synchronous step, so
 * there is nothing to batch; `apply` holds a lock per event across its handler, so an event is applied at most once.
 */
export const MemoryWebhookInbox = {
  layer: Layer.effectContext(make)
}
