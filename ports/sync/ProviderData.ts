import type { Effect, Redacted } from "effect"
import { Context, Schema } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { TokenGrant } from "../../domain/OAuth.ts"
import { Provider } from "../../domain/Provider.ts"

/** Whose data: the connection's account, opened with its credential (Stripe's API key, the others' access token). */
export interface DataCredential {
  readonly token: Redacted.Redacted<string>
  /** Square merchant, QuickBooks realm, Stripe account, Mailchimp login; as proven at connect. */
  readonly accountId: string | null
  /** Mailchimp's datacenter and API base (`dc`, `api_endpoint`). */
  readonly extra: TokenGrant["extra"]
  /** The Mailchimp audience the venue chose (PUT /mailchimp/settings); null: the account's oldest. */
  readonly audienceId: string | null
}

export const SyncMode = Schema.Literals(["full", "incremental"])
export type SyncMode = typeof SyncMode.Type

export interface PageRequest {
  readonly entityType: EntityType
  readonly credential: DataCredential
  /**
   * `full`: every live object, in a stable order. `incremental`: what was created, changed or deleted at or after
   * `since` (deletions as records with `deleted: true`).
   */
  readonly mode: SyncMode
  /** Incremental only: the watermark the previous complete pass answered. */
  readonly since: Date | null
  /** The adapter's own cursor from the previous page of this pass; null on the first page. */
  readonly cursor: string | null
}

/** One object as the provider answered it. */
export interface ProviderRecord {
  readonly externalId: string
  /** The provider's JSON object, unchanged: the mapping's input and what a remap reads again. */
  readonly raw: Record<string, unknown>
  /** The provider says it is gone (Stripe `*.deleted` event, Square `is_deleted`, QuickBooks `status: "Deleted"`). */
  readonly deleted: boolean
}

export interface Page {
  readonly records: ReadonlyArray<ProviderRecord>
  /** Where the next page starts; null when this pass is complete. Opaque to the engine, stored as the checkpoint. */
  readonly nextCursor: string | null
  /** How many objects the whole pass will return, where the provider tells (Mailchimp `total_items`), else null. */
  readonly total: number | null
  /**
   * The `since` of the next incremental pass once this one completes: the provider's own clock where it gives one
   * (Square `latest_time`, QuickBooks CDC time), else the latest creation/change time seen. Null: keep the previous.
   */
  readonly watermark: Date | null
  /** Lines for the job's log (a narrowed CDC window, a fallback), never secrets. */
  readonly notes: ReadonlyArray<string>
}

export const ProviderFailureKind = Schema.Literals([
  "rate_limited",
  "unavailable",
  "unauthorized",
  "forbidden",
  "not_found",
  "rejected"
])
export type ProviderFailureKind = typeof ProviderFailureKind.Type

/** The kind of a provider's HTTP failure status, as every adapter classifies it (408 is a timeout: retried). */
export const failureKindOf = (status: number): ProviderFailureKind => {
  if (status === 429) return "rate_limited"
  if (status === 408 || status >= 500) return "unavailable"
  if (status === 401) return "unauthorized"
  if (status === 403) return "forbidden"
  if (status === 404) return "not_found"
  return "rejected"
}

/**
 * A provider call that did not answer data. `rate_limited` (429) carries the provider's `Retry-After` /
 * `X-RateLimit-Reset` (QuickBooks: 60 s); `unavailable` is 5xx, network or timeout (retried); `unauthorized` is 401
 * (one refresh, then needs_reauth); `forbidden`/`not_found` (403/404) fail the entity's job with the provider's
 * reason; `rejected` is any other 4xx.
 */
export class ProviderCallFailed extends Schema.TaggedError<ProviderCallFailed>()("ProviderCallFailed", {
  provider: Provider,
  kind: ProviderFailureKind,
  status: Schema.NullOr(Schema.Number),
  retryAfterMillis: Schema.NullOr(Schema.Number),
  message: Schema.String
}) {}

/** `since` is older than what the provider keeps (Stripe events 30 days, QuickBooks CDC 30 days): sync in full. */
export class HistoryExpired extends Schema.TaggedError<HistoryExpired>()("HistoryExpired", {
  provider: Provider,
  message: Schema.String
}) {}

/** One provider's reader: an adapter per provider, on its official SDK (adapters/providers/<provider>/). */
export interface ProviderDataAdapter {
  readonly provider: Provider
  /** Objects the provider answers per page for the entity (progress and budgets use it). */
  readonly pageSize: (entityType: EntityType) => number
  readonly page: (request: PageRequest) => Effect.Effect<Page, ProviderCallFailed | HistoryExpired>
}

/**
 * Reading a provider's data, a page at a time. A pass is the sequence of pages from `cursor: null` until
 * `nextCursor: null`; the same request (entity, mode, since, cursor) answers the same page while the provider's data
 * is unchanged, so a pass resumed from a stored cursor neither skips nor repeats. Rate limits, breakers and retries
 * are the caller's: an adapter makes one provider call per page, except where a page needs more (Square orders
 * need the seller's locations first), and never retries on its own (the SDKs' own retries are switched off).
 */
export class ProviderData extends Context.Service<
  ProviderData,
  { readonly adapter: (provider: Provider) => ProviderDataAdapter }
>()("integration-service/ports/sync/ProviderData") {}
