import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { SealedSecret, SecretPlace } from "../domain/Credential.ts"
import type { StoreUnavailable } from "../domain/Errors.ts"

export interface CatalogedSecret {
  readonly place: SecretPlace
  readonly sealed: SealedSecret
}

/**
 * Every sealed secret of every tenant, for master-key rotation and the
 * credential check (start-up, deep health). It runs with the owner's rights,
 * never for a tenant's request.
 */
export class SecretCatalog extends Context.Service<
  SecretCatalog,
  {
    /** The next secrets whose data key is not wrapped under `keyId`. */
    readonly notWrappedUnder: (
      keyId: string,
      limit: number
    ) => Effect.Effect<ReadonlyArray<CatalogedSecret>, StoreUnavailable>
    /** Replaces the wrapped key only if the row still holds `previous`; false when it changed meanwhile. */
    readonly replaceWrappedKey: (
      place: SecretPlace,
      previous: SealedSecret,
      next: SealedSecret
    ) => Effect.Effect<boolean, StoreUnavailable>
    readonly count: (keyId: Option.Option<string>) => Effect.Effect<number, StoreUnavailable>
    /** Up to `limit` secrets picked at random: whether the configured master key still opens what is stored. */
    readonly sample: (limit: number) => Effect.Effect<ReadonlyArray<CatalogedSecret>, StoreUnavailable>
  }
>()("integration-service/ports/SecretCatalog") {}
