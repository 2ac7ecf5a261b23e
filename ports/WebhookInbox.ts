import type { Duration, Effect, Option } from "effect"
import { Context, Schema } from "effect"
import type { ConnectionId, TenantId, VenueId } from "../domain/Ids.ts"
import type { Provider } from "../domain/Provider.ts"

export const InboxStatus = Schema.Literals([
  "received",
  "queued",
  "processing",
  "processed",
  "ignored",
  "failed",
  "dead"
])
export type InboxStatus = typeof InboxStatus.Type

/** A verified, parsed event ready to store. */
export interface InboxEntry {
  readonly provider: Provider
  readonly eventId: string
  readonly type: string
  readonly accountId: string | null
  /** The public id of the registered endpoint it arrived on: routes to that connection only. */
  readonly endpoint: string | null
  readonly occurredAt: string | null
  /**
   * The event's bytes: the delivery exactly as received and signed, or, for a delivery of several events, this
   * event's own JSON. `payloadOfBody` reads the payload back from them.
   */
  readonly body: Uint8Array
  /** W3C traceparent of the request that stored it. */
  readonly traceParent: string | null
}

/** One connection's copy of an event: a new inbox row, or a copy that connection already has (changes nothing). */
export type StoredCopy =
  | { readonly _tag: "Stored"; readonly id: string; readonly tenantId: TenantId; readonly connectionId: ConnectionId }
  | { readonly _tag: "Duplicate"; readonly tenantId: TenantId; readonly connectionId: ConnectionId }

/**
 * Where one event went: a copy for every connection that proved its provider account (or the one connection of
 * the endpoint it arrived on). None means no tenant's event at all: it is quarantined.
 */
export type StoreOutcome = ReadonlyArray<StoredCopy>

export interface EndpointRoute {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly venueId: VenueId
}

/** A row waiting for the queue: stored while the queue was down, or offered and lost with its process. */
export interface PendingEvent {
  readonly id: string
  readonly tenantId: TenantId
  readonly provider: Provider
  readonly requeues: number
  readonly traceParent: string | null
}

export class InboxEvent extends Schema.Class<InboxEvent>("WebhookEvent")({
  id: Schema.String,
  tenantId: Schema.String,
  connectionId: Schema.NullOr(Schema.String),
  provider: Schema.String,
  eventId: Schema.String,
  type: Schema.String,
  status: InboxStatus,
  accountId: Schema.NullOr(Schema.String),
  attempts: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  occurredAt: Schema.NullOr(Schema.Date),
  receivedAt: Schema.Date,
  processedAt: Schema.NullOr(Schema.Date),
  payload: Schema.Json
}) {}

export interface EventFilter {
  readonly status?: InboxStatus | undefined
  readonly type?: string | undefined
  readonly limit: number
  /** Opaque cursor from the previous page. */
  readonly cursor?: string | undefined
}

export interface EventPage {
  readonly events: ReadonlyArray<InboxEvent>
  readonly next: string | null
}

/** The handler's verdict for an event it was given. */
export type Applied = "processed" | "ignored"

/** How the inbox settled an `apply`: `settled` means an earlier delivery already applied it (nothing ran). */
export type ApplyOutcome = Applied | "settled" | "missing"

export class InboxUnavailable extends Schema.TaggedError<InboxUnavailable>()("InboxUnavailable", {
  message: Schema.String
}) {}

/**
 * The durable webhook inbox. `store` is acknowledged only once committed (batched with concurrent callers);
 * `apply` runs a handler and the row's status change in one tenant transaction, so an event is applied at most
 * once however often it is delivered.
 */
export class WebhookInbox extends Context.Service<
  WebhookInbox,
  {
    readonly store: (entry: InboxEntry) => Effect.Effect<StoreOutcome, InboxUnavailable>
    /** Keeps an authentic but malformed delivery for inspection (no tenant: it could not be read). */
    readonly reject: (provider: Provider, detail: string, raw: Uint8Array) => Effect.Effect<void, InboxUnavailable>
    readonly endpoint: (
      provider: Provider,
      publicId: string
    ) => Effect.Effect<Option.Option<EndpointRoute>, InboxUnavailable>
    readonly pending: (
      olderThan: Duration.Duration,
      limit: number
    ) => Effect.Effect<ReadonlyArray<PendingEvent>, InboxUnavailable>
    readonly apply: <E, R>(
      tenantId: TenantId,
      id: string,
      handler: (event: InboxEvent) => Effect.Effect<Applied, E, R>
    ) => Effect.Effect<ApplyOutcome, E | InboxUnavailable, R>
    /** Counts a failed attempt; `dead` once the queue gives up on it. */
    readonly recordFailure: (
      tenantId: TenantId,
      id: string,
      error: string,
      dead: boolean
    ) => Effect.Effect<void, InboxUnavailable>
    readonly list: (
      tenantId: TenantId,
      provider: Provider,
      filter: EventFilter
    ) => Effect.Effect<EventPage, InboxUnavailable>
    /**
     * Puts failed or dead events (one by id, or all of the provider) back to `received` with a fresh attempt count
     * and one more requeue; returns them for offering.
     */
    readonly requeue: (
      tenantId: TenantId,
      provider: Provider,
      id: Option.Option<string>
    ) => Effect.Effect<ReadonlyArray<PendingEvent>, InboxUnavailable>
  }
>()("integration-service/ports/WebhookInbox") {}
