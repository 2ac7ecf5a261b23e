import { Effect, Layer, Redacted } from "effect"
import { additionalData, SealedSecret, type SecretPlace } from "../../domain/Credential.ts"
import { SecretUnreadable } from "../../domain/Errors.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"

const ivLength = 12
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const unreadable = () =>
  new SecretUnreadable({ message: "the secret does not open here: wrong place, altered, or another key" })

/** Imports the data key for one use and wipes the clear bytes at once; WebCrypto keeps its own copy. */
const importDataKey = (dataKey: Redacted.Redacted<Uint8Array>, usage: "encrypt" | "decrypt") =>
  Effect.promise(() =>
    crypto.subtle.importKey("raw", Redacted.value(dataKey) as Uint8Array<ArrayBuffer>, "AES-GCM", false, [usage])
  ).pipe(Effect.ensuring(Effect.sync(() => Redacted.value(dataKey).fill(0))))

/**
 * Envelope encryption: a fresh data key per secret from KeyManagement,
 * AES-256-GCM with a random 96-bit IV and the secret's place as additional
 * data, so a ciphertext opens only where it was sealed.
 */
export const EnvelopeCredentialVault = {
  layer: Layer.effect(
    CredentialVault,
    Effect.gen(function* () {
      const keys = yield* KeyManagement

      const seal = Effect.fn("EnvelopeCredentialVault.seal")(function* (
        place: SecretPlace,
        secret: Redacted.Redacted<string>
      ) {
        const dataKey = yield* keys.generateDataKey
        const key = yield* importDataKey(dataKey.plaintext, "encrypt")
        const iv = crypto.getRandomValues(new Uint8Array(ivLength))
        const plaintext = encoder.encode(Redacted.value(secret))
        const ciphertext = yield* Effect.promise(() =>
          crypto.subtle.encrypt(
            { name: "AES-GCM", iv, additionalData: encoder.encode(additionalData(place)) },
            key,
            plaintext
          )
        ).pipe(Effect.ensuring(Effect.sync(() => plaintext.fill(0))))
        return new SealedSecret({
          ciphertext: new Uint8Array(ciphertext),
          iv,
          wrappedKey: dataKey.wrapped,
          keyId: dataKey.keyId
        })
      })

      const open = Effect.fn("EnvelopeCredentialVault.open")(function* (place: SecretPlace, sealed: SealedSecret) {
        if (sealed.iv.length !== ivLength) return yield* unreadable()
        const dataKey = yield* keys.decrypt(sealed.wrappedKey, sealed.keyId)
        const key = yield* importDataKey(dataKey, "decrypt")
        const plaintext = yield* Effect.tryPromise({
          try: () =>
            crypto.subtle.decrypt(
              {
                name: "AES-GCM",
                iv: sealed.iv as Uint8Array<ArrayBuffer>,
                additionalData: encoder.encode(additionalData(place))
              },
              key,
              sealed.ciphertext as Uint8Array<ArrayBuffer>
            ),
          catch: unreadable
        })
        const bytes = new Uint8Array(plaintext)
        return yield* Effect.try({ try: () => Redacted.make(decoder.decode(bytes)), catch: unreadable }).pipe(
          Effect.ensuring(Effect.sync(() => bytes.fill(0)))
        )
      })

      const rewrap = Effect.fn("EnvelopeCredentialVault.rewrap")(function* (sealed: SealedSecret, toKeyId: string) {
        if (sealed.keyId === toKeyId) return sealed
        const next = yield* keys.reEncrypt(sealed.wrappedKey, sealed.keyId, toKeyId)
        return new SealedSecret({
          ciphertext: sealed.ciphertext,
          iv: sealed.iv,
          wrappedKey: next.wrapped,
          keyId: next.keyId
        })
      })

      return CredentialVault.of({ seal, open, rewrap })
    })
  )
}
