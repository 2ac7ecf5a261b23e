import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { ProviderAccount } from "../domain/Connection.ts"
import type { InvalidCredentials, ProviderUnavailable, Unprocessable } from "../domain/Errors.ts"
import type { Provider } from "../domain/Provider.ts"

/** Calls to the providers' own APIs, each through its official SDK. */
export class ProviderGateway extends Context.Service<
  ProviderGateway,
  {
    /** The cheapest authenticated call the provider offers; tells whether the key works and whose account it opens. */
    readonly verifyApiKey: (
      provider: Provider,
      apiKey: Redacted.Redacted<string>
    ) => Effect.Effect<ProviderAccount, InvalidCredentials | ProviderUnavailable | Unprocessable>
  }
>()("integration-service/ports/ProviderGateway") {}
