import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"

export const SyncEntity = Schema.Literals(["customer", "product", "order", "invoice", "payment", "contact"])
export type SyncEntity = typeof SyncEntity.Type

export interface SyncRequest {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: SyncEntity
  /** What asked for it, e.g. "webhook:quickbooks:qbo.customer.updated.v1". */
  readonly source: string
  readonly eventId: string | null
}

/** Pending incremental syncs for the sync engine; one per connection and entity type, bursts coalesce. */
export class SyncRequests extends Context.Service<
  SyncRequests,
  {
    readonly request: (request: SyncRequest) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/SyncRequests") {}
