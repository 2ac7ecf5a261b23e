import { Context, Effect, Layer } from "effect"
import { MemoryWebhookEndpoints } from "../../adapters/memory/MemoryWebhookEndpoints.ts"
import { MemoryWebhookInbox, MemoryWebhookInboxControl } from "../../adapters/memory/MemoryWebhookInbox.ts"
import { MemoryWebhookRoutes } from "../../adapters/memory/MemoryWebhookRoutes.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { PostgresWebhookEndpoints } from "../../adapters/postgres/PostgresWebhookEndpoints.ts"
import { PostgresWebhookInbox } from "../../adapters/postgres/PostgresWebhookInbox.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { Provider } from "../../domain/Provider.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import type { WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import type { WebhookInbox } from "../../ports/WebhookInbox.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

export interface Quarantined {
  readonly reason: string
  readonly eventId: string | null
  readonly detail: string | null
}

/** What the webhook suites set up and inspect outside the ports under test. */
export class WebhookRouting extends Context.Service<
  WebhookRouting,
  {
    /** A connection webhook routing knows of. */
    readonly connection: (connection: Connection) => Effect.Effect<void>
    readonly quarantined: (provider: Provider) => Effect.Effect<ReadonlyArray<Quarantined>>
  }
>()("integration-service/test/WebhookRouting") {}

export type WebhookStack = Layer.Layer<WebhookInbox | WebhookEndpoints | WebhookRouting>

export const memoryWebhooks: WebhookStack = Layer.effect(
  WebhookRouting,
  Effect.gen(function* () {
    const routes = yield* MemoryWebhookRoutes
    const control = yield* MemoryWebhookInboxControl
    return WebhookRouting.of({
      connection: routes.connection,
      quarantined: (provider) =>
        Effect.map(control.quarantined, (all) =>
          all
            .filter((q) => q.provider === provider)
            .map((q) => ({ reason: q.reason, eventId: q.eventId, detail: q.detail }))
        )
    })
  })
).pipe(
  Layer.provideMerge(Layer.mergeAll(MemoryWebhookInbox.layer, MemoryWebhookEndpoints.layer)),
  Layer.provide(MemoryWebhookRoutes.layer)
)

export const postgresWebhooks: WebhookStack = Layer.effect(
  WebhookRouting,
  Effect.gen(function* () {
    const connections = yield* ConnectionStore
    const owner = yield* OwnerSql
    return WebhookRouting.of({
      connection: (c) => connections.saveConnected(c, []).pipe(Effect.orDie),
      quarantined: (provider) =>
        owner<Quarantined>`SELECT reason, event_id, detail FROM webhook_quarantine WHERE provider = ${provider}
          ORDER BY received_at`.pipe(Effect.orDie)
    })
  })
).pipe(
  Layer.provideMerge(Layer.mergeAll(PostgresWebhookInbox.layer(), PostgresWebhookEndpoints.layer)),
  Layer.provide(Layer.mergeAll(PostgresConnectionStore.layer, OwnerSql.layer)),
  Layer.provide(TestDatabase)
)
