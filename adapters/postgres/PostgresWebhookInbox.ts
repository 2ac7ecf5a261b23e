import { Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { payloadOfBody } from "../../domain/WebhookEvent.ts"
import {
  type Applied,
  type ApplyOutcome,
  type EventFilter,
  type InboxEntry,
  InboxEvent,
  InboxUnavailable,
  type PendingEvent,
  type StoredCopy,
  type StoreOutcome,
  WebhookInbox
} from "../../ports/WebhookInbox.ts"
import { withTenant } from "./TenantTransaction.ts"

export interface GroupCommitOptions {
  /** Batches committing at once; a new request joins the next batch while all are busy (default 4). */
  readonly maxInFlight?: number | undefined
  /** Most events per transaction (default 256). */
  readonly maxBatch?: number | undefined
  /** How long a batch waits for company once a slot is free; 0 = the current event-loop turn (default 0). */
  readonly windowMillis?: number | undefined
}

const decodeEvent = Schema.decodeUnknownSync(InboxEvent)
const unavailable = (error: SqlError.SqlError) => new InboxUnavailable({ message: `database: ${error.message}` })
const isSqlError = (u: unknown): u is SqlError.SqlError => SqlError.isSqlError(u)

const eventColumns = `id, tenant_id AS "tenantId", connection_id AS "connectionId", provider, event_id AS "eventId",
  event_type AS "type", status, account_id AS "accountId", attempts, last_error AS "lastError",
  occurred_at AS "occurredAt", received_at AS "receivedAt", processed_at AS "processedAt", body`

/** One event as an element of the `webhook_ingest` array, its bytes in base64. */
const entryJson = (e: InboxEntry): string =>
  `{"provider":${JSON.stringify(e.provider)},"event_id":${JSON.stringify(e.eventId)},"event_type":${JSON.stringify(e.type)},` +
  `"account_id":${JSON.stringify(e.accountId)},"endpoint":${JSON.stringify(e.endpoint)},` +
  `"occurred_at":${JSON.stringify(e.occurredAt)},"trace":${JSON.stringify(e.traceParent)},` +
  `"body":"${Buffer.from(e.body.buffer, e.body.byteOffset, e.body.byteLength).toString("base64")}"}`

const decodeRow = (row: { readonly provider: Provider; readonly body: Uint8Array }) =>
  decodeEvent({ ...row, payload: payloadOfBody(row.provider, row.body) })

interface Waiter {
  /** provider and event id: copies of one event in a batch share it. */
  readonly event: string
  readonly json: string
  readonly resume: (effect: Effect.Effect<StoreOutcome, InboxUnavailable>) => void
}

interface IngestRow {
  readonly ord: number
  readonly outcome: "stored" | "duplicate" | "unroutable"
  readonly id: string | null
  readonly tenant: TenantId | null
  readonly connection: ConnectionId | null
}

// The cursor is the last row's id: the next page compares against that row's exact received_at in the
// database (microseconds, which a JavaScript Date would round away), so rows of one instant are never skipped.
const encodeCursor = (id: string) => Buffer.from(id, "utf8").toString("base64url")

const decodeCursor = (cursor: string): string | undefined => {
  const id = Buffer.from(cursor, "base64url").toString("utf8")
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? id : undefined
}

const make = Effect.fnUntraced(function* (options: GroupCommitOptions) {
  const sql = yield* SqlClient.SqlClient
  const raw = sql.withoutTransforms()
  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  const maxInFlight = options.maxInFlight ?? 4
  const maxBatch = options.maxBatch ?? 256
  const windowMillis = options.windowMillis ?? 0

  const ingest = (json: string) =>
    sql<IngestRow>`SELECT ord, outcome, event_uuid AS id, tenant_id AS tenant, connection_id AS connection
      FROM webhook_ingest(${json}::jsonb)`

  // Group commit: requests wait in `pending`; up to `maxInFlight` batches commit at once, and a batch that ends
  // takes everything that queued meanwhile. Each caller resumes only after its batch's transaction committed.
  let pending: Array<Waiter> = []
  let inFlight = 0
  let scheduled = false

  const schedule = () => {
    if (scheduled || pending.length === 0 || inFlight >= maxInFlight) return
    scheduled = true
    if (windowMillis > 0) setTimeout(flush, windowMillis)
    else setImmediate(flush)
  }

  // webhook_ingest answers rows in input order, one per routed copy (an unroutable input: one row). It inserts one
  // row for copies of an event within a batch and answers `stored` for each of them: only the first copy of an
  // event for a connection is the stored one, the others are duplicates.
  const settle = (batch: ReadonlyArray<Waiter>, rows: ReadonlyArray<IngestRow>) => {
    const seen = new Set<string>()
    let r = 0
    for (let i = 0; i < batch.length; i++) {
      const copies: Array<StoredCopy> = []
      let answered = false
      for (; r < rows.length && rows[r]!.ord === i; r++) {
        answered = true
        const row = rows[r]!
        if (row.outcome === "unroutable" || row.tenant === null || row.connection === null) continue
        const key = `${row.connection}|${batch[i]!.event}`
        if (row.outcome === "stored" && row.id !== null && !seen.has(key)) {
          seen.add(key)
          copies.push({ _tag: "Stored", id: row.id, tenantId: row.tenant, connectionId: row.connection })
        } else copies.push({ _tag: "Duplicate", tenantId: row.tenant, connectionId: row.connection })
      }
      batch[i]!.resume(
        answered
          ? Effect.succeed(copies)
          : Effect.fail(new InboxUnavailable({ message: "database: batch answer is short" }))
      )
    }
  }

  // A failed batch is retried event by event, so one event the database refuses fails only its own request;
  // when the database itself is down every request fails (503) and nothing is acknowledged.
  const commit = (batch: ReadonlyArray<Waiter>): Effect.Effect<void> =>
    ingest(batch.length === 1 ? `[${batch[0]!.json}]` : `[${batch.map((w) => w.json).join(",")}]`).pipe(
      Effect.withSpan("PostgresWebhookInbox.commitBatch", { attributes: { "batch.size": batch.length } }),
      Effect.matchEffect({
        onSuccess: (rows) => Effect.sync(() => settle(batch, rows)),
        onFailure: (error) =>
          batch.length === 1
            ? Effect.sync(() => batch[0]!.resume(Effect.fail(unavailable(error))))
            : Effect.forEach(batch, (waiter) => commit([waiter]), { concurrency: maxInFlight, discard: true })
      })
    )

  const flush = () => {
    scheduled = false
    while (pending.length > 0 && inFlight < maxInFlight) {
      const batch = pending.length <= maxBatch ? pending : pending.slice(0, maxBatch)
      pending = pending.length <= maxBatch ? [] : pending.slice(maxBatch)
      inFlight++
      runFork(commit(batch)).addObserver((exit) => {
        inFlight--
        if (Exit.isFailure(exit)) {
          for (const w of batch) w.resume(Effect.fail(new InboxUnavailable({ message: "database: batch interrupted" })))
        }
        schedule()
      })
    }
  }

  // No span per event: the delivery has one, and each batch its `commitBatch` span.
  const store = (entry: InboxEntry) =>
    Effect.callback<StoreOutcome, InboxUnavailable>((resume) => {
      pending.push({ event: `${entry.provider}|${entry.eventId}`, json: entryJson(entry), resume })
      schedule()
    })

  const reject = Effect.fn("PostgresWebhookInbox.reject")(function* (
    provider: Provider,
    detail: string,
    raw: Uint8Array
  ) {
    yield* sql`INSERT INTO webhook_quarantine (provider, reason, detail, body)
      VALUES (${provider}, 'rejected', ${detail}, ${raw})`.pipe(Effect.mapError(unavailable))
  })

  const endpoint = Effect.fn("PostgresWebhookInbox.endpoint")(function* (provider: Provider, publicId: string) {
    const rows = yield* sql<{ tenantId: TenantId; connectionId: ConnectionId; venueId: VenueId }>`
      SELECT tenant_id, connection_id, venue_id FROM webhook_endpoint_route(${provider}, ${publicId})`.pipe(
      Effect.mapError(unavailable)
    )
    return Option.fromNullishOr(rows[0])
  })

  const pendingEvents = Effect.fn("PostgresWebhookInbox.pending")(function* (
    olderThan: Duration.Duration,
    limit: number
  ) {
    return yield* sql<PendingEvent>`SELECT id, tenant_id, provider, requeues, trace_parent
      FROM webhook_unqueued(${Math.round(Duration.toMillis(olderThan))}, ${limit})`.pipe(Effect.mapError(unavailable))
  })

  const apply = <E, R>(
    tenantId: TenantId,
    id: string,
    handler: (event: InboxEvent) => Effect.Effect<Applied, E, R>
  ): Effect.Effect<ApplyOutcome, E | InboxUnavailable, R> =>
    Effect.gen(function* () {
      const [row] = yield* raw<{
        provider: Provider
        body: Uint8Array
      }>`SELECT ${raw.literal(eventColumns)} FROM webhook_events WHERE id = ${id} FOR UPDATE`
      if (row === undefined) return "missing" as const
      const event = decodeRow(row)
      if (event.status === "processed" || event.status === "ignored") return "settled" as const
      const applied = yield* handler(event)
      yield* sql`UPDATE webhook_events SET status = ${applied}, attempts = attempts + 1, last_error = NULL,
        processed_at = now() WHERE id = ${id}`
      return applied
    }).pipe(
      withTenant(sql, tenantId),
      Effect.catchIf(isSqlError, (error) => Effect.fail(unavailable(error))),
      Effect.withSpan("PostgresWebhookInbox.apply", { attributes: { "webhook.inbox_id": id } })
    )

  const recordFailure = Effect.fn("PostgresWebhookInbox.recordFailure")(function* (
    tenantId: TenantId,
    id: string,
    error: string,
    dead: boolean
  ) {
    yield* sql`UPDATE webhook_events SET status = ${dead ? "dead" : "failed"}, attempts = attempts + 1,
      last_error = ${error.slice(0, 2000)} WHERE id = ${id} AND status NOT IN ('processed', 'ignored')`.pipe(
      withTenant(sql, tenantId),
      Effect.mapError(unavailable)
    )
  })

  const list = Effect.fn("PostgresWebhookInbox.list")(function* (
    tenantId: TenantId,
    provider: Provider,
    filter: EventFilter
  ) {
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor)
    const rows = yield* raw<{
      provider: Provider
      body: Uint8Array
    }>`SELECT ${raw.literal(eventColumns)} FROM webhook_events
      WHERE provider = ${provider}
      ${filter.status === undefined ? raw`` : raw`AND status = ${filter.status}`}
      ${filter.type === undefined ? raw`` : raw`AND event_type = ${filter.type}`}
      ${after === undefined ? raw`` : raw`AND (received_at, id) < (SELECT e.received_at, e.id FROM webhook_events e WHERE e.id = ${after}::uuid)`}
      ORDER BY received_at DESC, id DESC
      LIMIT ${filter.limit + 1}`.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
    const events = rows.slice(0, filter.limit).map(decodeRow)
    const last = events[events.length - 1]
    return { events, next: rows.length > filter.limit && last ? encodeCursor(last.id) : null }
  })

  const requeue = Effect.fn("PostgresWebhookInbox.requeue")(function* (
    tenantId: TenantId,
    provider: Provider,
    id: Option.Option<string>
  ) {
    return yield* sql<PendingEvent>`UPDATE webhook_events
      SET status = 'received', attempts = 0, last_error = NULL, requeues = requeues + 1
      WHERE provider = ${provider} AND status IN ('failed', 'dead')
      ${Option.match(id, { onNone: () => sql``, onSome: (one) => sql`AND id = ${one}` })}
      RETURNING id, tenant_id, provider, requeues, trace_parent`.pipe(
      withTenant(sql, tenantId),
      Effect.mapError(unavailable)
    )
  })

  return WebhookInbox.of({ store, reject, endpoint, pending: pendingEvents, apply, recordFailure, list, requeue })
})

/**
 * The inbox on PostgreSQL with group commit. Rows are routed and inserted by the `webhook_ingest` function (owned
 * by a no-login router role, see migration 0007), so the service role never reads across tenants itself.
 */
const layer = (options: GroupCommitOptions = {}) => Layer.effect(WebhookInbox, make(options))

export const PostgresWebhookInbox = { layer } as const
