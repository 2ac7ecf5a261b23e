import { Context, Effect, Layer } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type SyncEntity, type SyncRequest, SyncRequests } from "../../ports/SyncRequests.ts"

/** One coalesced request: the latest source and event of a burst, and how many events it gathered. */
export interface PendingSync {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly entityType: SyncEntity
  readonly source: string
  readonly lastEventId: string | null
  readonly events: number
}

/** Shows tests the pending requests, as the sync engine would find them. */
export class MemorySyncRequestsControl extends Context.Service<
  MemorySyncRequestsControl,
  { readonly pending: (tenantId: TenantId) => Effect.Effect<ReadonlyArray<PendingSync>> }
>()("integration-service/adapters/memory/MemorySyncRequestsControl") {}

const make = Effect.sync(() => {
  const requests = new Map<string, PendingSync>()

  const request = (r: SyncRequest) =>
    Effect.sync(() => {
      const key = `${r.tenantId}|${r.connectionId}|${r.entityType}`
      const previous = requests.get(key)
      requests.set(key, {
        tenantId: r.tenantId,
        connectionId: r.connectionId,
        entityType: r.entityType,
        source: r.source,
        lastEventId: r.eventId,
        events: (previous?.events ?? 0) + 1
      })
    }).pipe(Effect.withSpan("MemorySyncRequests.request"))

  const pending = (tenantId: TenantId) =>
    Effect.sync(() =>
      [...requests.values()]
        .filter((r) => r.tenantId === tenantId)
        .sort((a, b) => a.connectionId.localeCompare(b.connectionId) || a.entityType.localeCompare(b.entityType))
    )

  return Context.make(SyncRequests, SyncRequests.of({ request })).pipe(
    Context.add(MemorySyncRequestsControl, MemorySyncRequestsControl.of({ pending }))
  )
})

/** Pending incremental syncs in process memory, one per connection and entity type. */
export const MemorySyncRequests = {
  layer: Layer.effectContext(make)
}
