import type { Effect, Option, Redacted } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { TenantId, UserId, VenueId } from "../domain/Ids.ts"
import type { OAuthProviderName } from "../domain/OAuth.ts"

/** Who started an authorization and for what: the state's binding. */
export interface OAuthStateBinding {
  readonly tenantId: TenantId
  readonly venueId: VenueId
  readonly provider: OAuthProviderName
  readonly userId: UserId
  readonly codeVerifier: Redacted.Redacted<string> | null
  readonly redirectUri: string
}

export interface IssuedState extends OAuthStateBinding {
  /** SHA-256 of the state; the state itself is never stored. */
  readonly stateHash: Uint8Array
  readonly expiresAt: Date
}

/** OAuth authorizations in flight. */
export class OAuthStateStore extends Context.Service<
  OAuthStateStore,
  {
    readonly issue: (state: IssuedState) => Effect.Effect<void, StoreUnavailable>
    /**
     * Atomically takes the state issued for `provider` under this hash while it
     * is still valid, so it works once; None for unknown, expired, used or
     * another provider's state, which stays untouched.
     */
    readonly consume: (
      stateHash: Uint8Array,
      provider: OAuthProviderName
    ) => Effect.Effect<Option.Option<OAuthStateBinding>, StoreUnavailable>
  }
>()("integration-service/ports/OAuthStateStore") {}
