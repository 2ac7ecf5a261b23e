import type { Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"

/** `connection.health_changed`: a health transition (domain/health/HealthRules.ts), failures and recoveries alike. */
export const integrationEventTypes = ["connection.needs_reauth", "connection.health_changed"] as const

export interface IntegrationEvent {
  readonly id: string
  readonly tenantId: TenantId
  readonly type: (typeof integrationEventTypes)[number]
  readonly connectionId: ConnectionId
  /** Plain facts for notifications; never a secret. */
  readonly payload: Readonly<Record<string, string>>
  readonly occurredAt: Date
}

/** Domain events for the rest of the system (notifications, health). */
export class EventPublisher extends Context.Service<
  EventPublisher,
  {
    readonly publish: (event: IntegrationEvent) => Effect.Effect<void, StoreUnavailable>
    /** The tenant's events, oldest first. */
    readonly list: (tenantId: TenantId) => Effect.Effect<ReadonlyArray<IntegrationEvent>, StoreUnavailable>
  }
>()("integration-service/ports/EventPublisher") {}
