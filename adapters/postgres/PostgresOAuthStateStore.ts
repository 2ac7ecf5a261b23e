import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { TenantId, UserId, VenueId } from "../../domain/Ids.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { type IssuedState, OAuthStateStore } from "../../ports/OAuthStateStore.ts"
import { withTenant } from "./TenantTransaction.ts"

const Binding = Schema.Struct({
  tenantId: TenantId,
  venueId: VenueId,
  provider: OAuthProviderName,
  userId: UserId,
  codeVerifier: Schema.NullOr(Schema.String),
  redirectUri: Schema.String
})
const decodeBinding = Schema.decodeUnknownEffect(Binding)

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/**
 * States in `oauth_states`. The callback knows no tenant, so `consume` goes
 * through the migration owner's `oauth_consume_state` (SECURITY DEFINER): the
 * service role itself never reads across tenants.
 */
export const PostgresOAuthStateStore = {
  layer: Layer.effect(
    OAuthStateStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const issue = Effect.fn("PostgresOAuthStateStore.issue")(function* (state: IssuedState) {
        yield* sql`
          INSERT INTO oauth_states (state_hash, tenant_id, venue_id, provider, user_id, code_verifier, redirect_uri,
            expires_at)
          VALUES (${state.stateHash}, ${state.tenantId}, ${state.venueId}, ${state.provider}, ${state.userId},
            ${state.codeVerifier === null ? null : Redacted.value(state.codeVerifier)}, ${state.redirectUri},
            ${state.expiresAt})`.pipe(withTenant(sql, state.tenantId), Effect.mapError(unavailable))
      })

      const consume = Effect.fn("PostgresOAuthStateStore.consume")(function* (
        stateHash: Uint8Array,
        provider: OAuthProviderName
      ) {
        const rows = yield* sql`SELECT tenant_id, venue_id, provider, user_id, code_verifier, redirect_uri
          FROM oauth_consume_state(${stateHash}, ${provider})`.pipe(Effect.mapError(unavailable))
        if (rows[0] === undefined) return Option.none()
        const row = yield* decodeBinding(rows[0]).pipe(
          Effect.mapError(() => new StoreUnavailable({ message: "an oauth_states row does not decode" }))
        )
        return Option.some({
          ...row,
          codeVerifier: row.codeVerifier === null ? null : Redacted.make(row.codeVerifier)
        })
      })

      return OAuthStateStore.of({ issue, consume })
    })
  )
}
