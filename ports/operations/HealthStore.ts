import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { HealthReason, HealthSample, HealthState } from "../../domain/health/HealthRules.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import type { IntegrationEvent } from "../EventPublisher.ts"

/** What the health rules last said about a connection, and which status was last notified. */
export interface HealthRecord {
  readonly status: HealthState
  readonly notifiedStatus: HealthState | null
  readonly reasons: ReadonlyArray<HealthReason>
  readonly consecutiveFailures: number
  readonly errorRate: number | null
  readonly p95LatencyMs: number | null
  readonly credentialExpiresAt: Date | null
  readonly since: Date
  readonly updatedAt: Date
}

/** The next record and the event to publish with it, if any: both commit together or not at all. */
export interface HealthDecision {
  readonly next: HealthRecord
  readonly event: IntegrationEvent | null
}

export interface DueCheck {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly venueId: VenueId
  readonly provider: Provider
}

export interface ProviderCounts {
  readonly provider: Provider
  readonly connections: number
  readonly failing: number
}

export type ProviderStatus = "operational" | "outage"

/** A notification that belongs to no tenant (a provider outage), ready to deliver. */
export interface PlatformNotification {
  readonly id: string
  readonly type: string
  readonly body: string
}

/** The health monitor's durable state: the window of checks, each connection's status, the provider view. */
export class HealthStore extends Context.Service<
  HealthStore,
  {
    /** Connections due a check across tenants, each handed to one caller; it moves an interval on. */
    readonly claimDue: (
      intervalMillis: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<DueCheck>, StoreUnavailable>
    /**
     * In one tenant transaction: adds `sample` (when there is one) to the connection's checks, reads the newest
     * `windowSize` of them and the current record, and stores what `decide` answers, publishing its event.
     */
    readonly record: (
      due: DueCheck,
      sample: HealthSample | null,
      windowSize: number,
      decide: (previous: Option.Option<HealthRecord>, window: ReadonlyArray<HealthSample>) => HealthDecision
    ) => Effect.Effect<HealthDecision, StoreUnavailable>
    readonly state: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<Option.Option<HealthRecord>, StoreUnavailable>
    /** Per provider, the connections checked since `since` and how many failed on the provider's side last. */
    readonly providerWindow: (since: Date) => Effect.Effect<ReadonlyArray<ProviderCounts>, StoreUnavailable>
    readonly providerStatuses: () => Effect.Effect<ReadonlyMap<Provider, ProviderStatus>, StoreUnavailable>
    /** Sets the status; only a change enqueues `notification`. Answers whether it changed. */
    readonly setProviderStatus: (
      provider: Provider,
      status: ProviderStatus,
      notification: PlatformNotification
    ) => Effect.Effect<boolean, StoreUnavailable>
  }
>()("integration-service/ports/operations/HealthStore") {}
