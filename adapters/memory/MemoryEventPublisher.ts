import { Effect, Layer } from "effect"
import type { TenantId } from "../../domain/Ids.ts"
import { EventPublisher, type IntegrationEvent } from "../../ports/EventPublisher.ts"

/** Events kept in process memory, in publication order. */
export const MemoryEventPublisher = {
  layer: Layer.sync(EventPublisher, () => {
    const events: Array<IntegrationEvent> = []
    return EventPublisher.of({
      publish: (event) =>
        Effect.sync(() => {
          events.push(event)
        }).pipe(Effect.withSpan("MemoryEventPublisher.publish")),
      list: (tenantId: TenantId) =>
        Effect.sync(() => events.filter((e) => e.tenantId === tenantId)).pipe(
          Effect.withSpan("MemoryEventPublisher.list")
        )
    })
  })
}
