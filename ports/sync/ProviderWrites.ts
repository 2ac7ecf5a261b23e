import type { Effect } from "effect"
import { Context } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { DataCredential, ProviderCallFailed } from "./ProviderData.ts"

/** What an earlier push (or an inbound read) left of the provider's object: its id and its last known state. */
export interface ExternalLink {
  readonly externalId: string
  /**
   * The provider's object as last answered or read (synced_records.raw): where a writer finds what an update needs —
   * Square's `version`, QuickBooks' `SyncToken`, Stripe's `default_price` and its amount.
   */
  readonly raw: Record<string, unknown>
}

/** One platform record to push: its mapped provider-side fields, or its deletion. */
export interface OutboundItem {
  readonly platformId: string
  readonly version: number
  /** The outbound mapping's output (provider field names); null for a deletion. */
  readonly fields: Record<string, unknown> | null
  readonly deleted: boolean
  /** Null: never pushed, create it. Else update (or archive) this object, never create another. */
  readonly link: ExternalLink | null
  /**
   * Derived from (connection, entity, record id, record version): 32 characters of [0-9a-f], within every provider's
   * limit (Square payments 45, QuickBooks batch 36). A writer that makes several calls for one item suffixes it
   * (`${key}-p` for a Stripe price), still within the limit.
   */
  readonly idempotencyKey: string
}

export type WriteOutcome =
  | {
      readonly platformId: string
      readonly outcome: "created" | "updated" | "archived"
      readonly externalId: string
      /** The provider's object as its last answer had it: stored as the link's raw and for echo suppression. */
      readonly raw: Record<string, unknown>
    }
  | {
      readonly platformId: string
      readonly outcome: "failed"
      /** The provider's own reason (its error code and message), for the job's log. */
      readonly reason: string
    }

/**
 * One provider call of a write, under the account's budget, breakers and retries. Every call a writer makes goes
 * through it (a Stripe product push is a product call and a price call: two calls, two budget tokens). `E` is the
 * engine's own reason to stop (a breaker open, a 429 storm): a writer lets it through untouched.
 */
export type WriteCall<E> = <A>(
  operation: string,
  effect: Effect.Effect<A, ProviderCallFailed>
) => Effect.Effect<A, ProviderCallFailed | E>

export interface WriteRequest<E> {
  readonly entityType: EntityType
  readonly credential: DataCredential
  readonly items: ReadonlyArray<OutboundItem>
  readonly call: WriteCall<E>
  /** The provider id another entity's record was pushed as (a QuickBooks order's customer and items); null if never. */
  readonly linkOf: (entityType: EntityType, platformId: string) => Effect.Effect<string | null, E>
  /** The venue's live platform records of another entity, by id (a Mailchimp order's buyer and products). */
  readonly recordsOf: (
    entityType: EntityType,
    platformIds: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, Record<string, unknown>>, E>
}

/** One provider's writer, on its official SDK (adapters/providers/<provider>/<Provider>Writes.ts). */
export interface ProviderWriter {
  readonly provider: Provider
  /** Items per `write` (Square batch-upsert up to 1,000, Mailchimp batches; 1 where the API has no batch). */
  readonly batchSize: (entityType: EntityType) => number
  /**
   * Pushes the items: an outcome per item, in any order. A provider refusal of one item (400/404/409/422 for that
   * object) is that item's `failed` outcome; what stops every item (429, 5xx, 401) fails the whole write, and the
   * engine runs it again later with the same idempotency keys, so nothing is created twice.
   */
  readonly write: <E>(request: WriteRequest<E>) => Effect.Effect<ReadonlyArray<WriteOutcome>, ProviderCallFailed | E>
}

/** Writing to a provider: a writer per provider; only the pairs of `domain/sync/SupportedPairs.ts` are asked. */
export class ProviderWrites extends Context.Service<
  ProviderWrites,
  { readonly writer: (provider: Provider) => ProviderWriter }
>()("integration-service/ports/sync/ProviderWrites") {}
