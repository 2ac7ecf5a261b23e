import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { StoreHealth } from "../../ports/StoreHealth.ts"

export const PostgresStoreHealth = {
  layer: Layer.effect(
    StoreHealth,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return StoreHealth.of({
        ping: sql`SELECT 1`.pipe(
          Effect.timeout("2 seconds"),
          Effect.mapError((e) => new StoreUnavailable({ message: `database: ${e.message}` })),
          Effect.asVoid,
          Effect.withSpan("PostgresStoreHealth.ping")
        )
      })
    })
  )
}
