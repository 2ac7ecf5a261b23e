import { Context, Effect } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import type { TenantId } from "../../domain/Ids.ts"

export const appRole = "integration_app"

const ActiveTenant = Context.Reference<TenantId | undefined>("integration-service/postgres/ActiveTenant", {
  defaultValue: () => undefined
})

/**
 * Runs `self` in a transaction whose queries see only `tenantId`'s rows:
 * `app.tenant_id` is set transaction-locally (it never leaks to the pooled
 * connection) and the role drops to the non-owner service role, so forced RLS
 * applies even on a superuser connection.
 * Nested calls for the same tenant join the open transaction.
 */
export const withTenant =
  (sql: SqlClient.SqlClient, tenantId: TenantId) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
    Effect.flatMap(ActiveTenant, (active) =>
      active === tenantId
        ? self
        : sql.withTransaction(
            sql`SELECT set_config('role', ${appRole}, true), set_config('app.tenant_id', ${tenantId}, true)`.pipe(
              Effect.andThen(Effect.provideService(self, ActiveTenant, tenantId))
            )
          )
    )
