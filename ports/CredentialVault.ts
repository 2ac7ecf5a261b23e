import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { SealedSecret, SecretPlace } from "../domain/Credential.ts"
import type { KeyManagementUnavailable, SecretUnreadable } from "../domain/Errors.ts"

/** Envelope encryption of credentials, each bound to the place it is stored. */
export class CredentialVault extends Context.Service<
  CredentialVault,
  {
    readonly seal: (
      place: SecretPlace,
      secret: Redacted.Redacted<string>
    ) => Effect.Effect<SealedSecret, KeyManagementUnavailable>
    readonly open: (
      place: SecretPlace,
      sealed: SealedSecret
    ) => Effect.Effect<Redacted.Redacted<string>, SecretUnreadable | KeyManagementUnavailable>
    /** The same secret with its data key wrapped under `toKeyId`; the ciphertext is untouched. */
    readonly rewrap: (
      sealed: SealedSecret,
      toKeyId: string
    ) => Effect.Effect<SealedSecret, SecretUnreadable | KeyManagementUnavailable>
  }
>()("integration-service/ports/CredentialVault") {}
