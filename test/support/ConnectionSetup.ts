import { Context, Effect, Layer } from "effect"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import type { Connection } from "../../domain/Connection.ts"
import { type TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { connection } from "./Fixtures.ts"

/** Makes a connection exist wherever the adapter under test expects one: nowhere in memory, a row in PostgreSQL. */
export class ConnectionSetup extends Context.Service<
  ConnectionSetup,
  { readonly connection: (connection: Connection) => Effect.Effect<void> }
>()("integration-service/test/ConnectionSetup") {}

export const memoryConnectionSetup = Layer.succeed(
  ConnectionSetup,
  ConnectionSetup.of({ connection: () => Effect.void })
)

/** Saves connections through the real PostgreSQL store, so foreign keys to them hold. */
export const postgresConnectionSetup = Layer.effect(
  ConnectionSetup,
  Effect.map(ConnectionStore, (connections) =>
    ConnectionSetup.of({ connection: (c) => connections.saveConnected(c, []).pipe(Effect.orDie) })
  )
).pipe(Layer.provide(PostgresConnectionStore.layer))

/** A connection of a fresh venue, set up. */
export const setUpConnection = (tenantId: TenantId, provider: Provider) =>
  Effect.gen(function* () {
    const c = connection(tenantId, VenueId.make(crypto.randomUUID()), provider)
    yield* (yield* ConnectionSetup).connection(c)
    return c
  })
