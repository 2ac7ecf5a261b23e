import { Context, Effect, Layer, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import { SecretPlace } from "../../domain/Credential.ts"
import { TokensMissing } from "../../domain/OAuthErrors.ts"
import { ConnectionSettingsStore } from "../../ports/ConnectionSettingsStore.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import type { DataCredential } from "../../ports/sync/ProviderData.ts"
import { TokenVault } from "../TokenVault.ts"

/**
 * The credential a data adapter reads with: Stripe's sealed API key opened, or the OAuth access token from the
 * vault (refreshed when due); with the Mailchimp audience the venue chose.
 */
export class DataCredentials extends Context.Service<DataCredentials>()(
  "integration-service/application/sync/DataCredentials",
  {
    make: Effect.gen(function* () {
      const connections = yield* ConnectionStore
      const vault = yield* CredentialVault
      const tokens = yield* TokenVault
      const settings = yield* ConnectionSettingsStore

      const of = Effect.fn("DataCredentials.of")(function* (connection: Connection, fresh: boolean) {
        const ref = { tenantId: connection.tenantId, id: connection.id }
        if (connection.authType === "api_key") {
          const place = new SecretPlace({ ...connection, field: "api_key" })
          const sealed = yield* connections.secret(place)
          if (Option.isNone(sealed)) return yield* new TokensMissing({ connectionId: connection.id })
          return {
            token: yield* vault.open(place, sealed.value),
            accountId: connection.accountId,
            extra: {},
            audienceId: null
          } satisfies DataCredential
        }
        const access = fresh ? yield* tokens.refresh(ref) : yield* tokens.accessToken(ref)
        const audienceId =
          connection.provider === "mailchimp"
            ? ((yield* settings.read(connection.tenantId, connection.id)).listId ?? null)
            : null
        return {
          token: access.token,
          accountId: connection.accountId,
          extra: access.extra,
          audienceId
        } satisfies DataCredential
      })

      return {
        /** The current credential. */
        current: (connection: Connection) => of(connection, false),
        /** After a 401: a new access token now (an API key cannot be renewed, so it is read again). */
        renewed: (connection: Connection) => of(connection, true)
      }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
