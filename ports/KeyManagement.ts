import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { KeyManagementUnavailable, SecretUnreadable } from "../domain/Errors.ts"

export interface DataKey {
  /** The 256-bit AES key in the clear: used once, never stored. */
  readonly plaintext: Redacted.Redacted<Uint8Array>
  /** The same key wrapped by the master key `keyId`: this is what is stored. */
  readonly wrapped: Uint8Array
  /** The master key as the key manager names it (AWS KMS: the key ARN, even when configured by alias). */
  readonly keyId: string
}

/** Master keys that never leave the key manager: AWS KMS in production, a local keyring embedded. */
export class KeyManagement extends Context.Service<
  KeyManagement,
  {
    /** The master key new data keys are wrapped under. */
    readonly currentKeyId: string
    readonly generateDataKey: Effect.Effect<DataKey, KeyManagementUnavailable>
    readonly decrypt: (
      wrapped: Uint8Array,
      keyId: string
    ) => Effect.Effect<Redacted.Redacted<Uint8Array>, KeyManagementUnavailable | SecretUnreadable>
    /** Re-wraps a data key under another master key without exposing it; `keyId` is named as in DataKey. */
    readonly reEncrypt: (
      wrapped: Uint8Array,
      fromKeyId: string,
      toKeyId: string
    ) => Effect.Effect<
      { readonly wrapped: Uint8Array; readonly keyId: string },
      KeyManagementUnavailable | SecretUnreadable
    >
    /** A cheap round trip for the deep health check. */
    readonly ping: Effect.Effect<void, KeyManagementUnavailable>
  }
>()("integration-service/ports/KeyManagement") {}
