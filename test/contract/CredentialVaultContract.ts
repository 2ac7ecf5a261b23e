import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import fc from "fast-check"
import { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { TenantId, VenueId } from "../../domain/Ids.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { assertReveals, flipped } from "./KeyManagementContract.ts"

export const somePlace = (overrides: Partial<ConstructorParameters<typeof SecretPlace>[0]> = {}) =>
  new SecretPlace({
    tenantId: TenantId.make(crypto.randomUUID()),
    venueId: VenueId.make(crypto.randomUUID()),
    provider: "stripe",
    field: "api_key",
    ...overrides
  })

/**
 * What every CredentialVault must do, given a layer that also exposes its
 * KeyManagement. `otherKeyId` names a second master key to rewrap under.
 */
export const credentialVaultContract = <E>(
  name: string,
  vault: Layer.Layer<CredentialVault | KeyManagement, E>,
  options: { readonly otherKeyId: string }
) =>
  layer(vault)(`CredentialVault contract: ${name}`, (it) => {
    const secret = "sk_test_51Hc0ntr4ctSecretValue"

    it.effect("seals under the current master key and opens in the same place", () =>
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const keys = yield* KeyManagement
        const place = somePlace()
        const sealed = yield* vault.seal(place, Redacted.make(secret))
        assert.strictEqual(sealed.keyId, keys.currentKeyId)
        assert.strictEqual(sealed.iv.length, 12)
        assert.isFalse(Buffer.from(sealed.ciphertext).toString("latin1").includes(secret))
        const opened = yield* vault.open(place, sealed)
        assert.strictEqual(Redacted.value(opened), secret)
        const again = yield* vault.seal(place, Redacted.make(secret))
        assert.notDeepEqual(again.iv, sealed.iv)
        assert.notDeepEqual(again.wrappedKey, sealed.wrappedKey)
      })
    )

    it.effect("does not open in another tenant's, venue's, provider's or field's place", () =>
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const keys = yield* KeyManagement
        const place = somePlace({ provider: "square", field: "access_token" })
        const sealed = yield* vault.seal(place, Redacted.make(secret))
        const dataKey = Uint8Array.from(Redacted.value(yield* keys.decrypt(sealed.wrappedKey, sealed.keyId)))
        const elsewhere = [
          new SecretPlace({ ...place, tenantId: TenantId.make(crypto.randomUUID()) }),
          new SecretPlace({ ...place, venueId: VenueId.make(crypto.randomUUID()) }),
          new SecretPlace({ ...place, provider: "quickbooks" }),
          new SecretPlace({ ...place, field: "refresh_token" })
        ]
        for (const other of elsewhere) {
          const error = yield* Effect.flip(vault.open(other, sealed))
          assert.strictEqual(error._tag, "SecretUnreadable")
          assertReveals(error, [secret, dataKey, sealed.ciphertext])
        }
      })
    )

    it.effect("refuses tampering with any part as SecretUnreadable, revealing nothing", () =>
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const keys = yield* KeyManagement
        const place = somePlace()
        const sealed = yield* vault.seal(place, Redacted.make(secret))
        const dataKey = Uint8Array.from(Redacted.value(yield* keys.decrypt(sealed.wrappedKey, sealed.keyId)))
        const tampered = [
          new SealedSecret({ ...sealed, ciphertext: flipped(sealed.ciphertext, 0) }),
          new SealedSecret({ ...sealed, ciphertext: flipped(sealed.ciphertext) }),
          new SealedSecret({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, sealed.ciphertext.length - 1) }),
          new SealedSecret({ ...sealed, iv: flipped(sealed.iv) }),
          new SealedSecret({ ...sealed, iv: sealed.iv.subarray(0, 8) }),
          new SealedSecret({ ...sealed, wrappedKey: flipped(sealed.wrappedKey) }),
          new SealedSecret({ ...sealed, keyId: options.otherKeyId })
        ]
        for (const bad of tampered) {
          const error = yield* Effect.flip(vault.open(place, bad))
          assert.strictEqual(error._tag, "SecretUnreadable")
          assertReveals(error, [secret, dataKey])
        }
      })
    )

    it.effect("rewraps the data key under another master key, leaving the ciphertext alone", () =>
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const place = somePlace({ provider: "mailchimp", field: "refresh_token" })
        const sealed = yield* vault.seal(place, Redacted.make(secret))
        const moved = yield* vault.rewrap(sealed, options.otherKeyId)
        assert.notStrictEqual(moved.keyId, sealed.keyId)
        assert.deepStrictEqual(moved.ciphertext, sealed.ciphertext)
        assert.deepStrictEqual(moved.iv, sealed.iv)
        assert.notDeepEqual(moved.wrappedKey, sealed.wrappedKey)
        assert.strictEqual(Redacted.value(yield* vault.open(place, moved)), secret)
        assert.strictEqual(Redacted.value(yield* vault.open(place, sealed)), secret)
        const unchanged = yield* vault.rewrap(moved, moved.keyId)
        assert.deepStrictEqual(unchanged.wrappedKey, moved.wrappedKey)
      })
    )

    it.effect("round-trips any string (property)", () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<CredentialVault>()
        const place = somePlace({ provider: "quickbooks", field: "webhook_secret" })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.string({ unit: "binary", maxLength: 512 }), (value) =>
              Effect.runPromiseWith(context)(
                Effect.gen(function* () {
                  const vault = yield* CredentialVault
                  const opened = yield* vault.open(place, yield* vault.seal(place, Redacted.make(value)))
                  return Redacted.value(opened) === value
                })
              )
            ),
            { numRuns: 50 }
          )
        )
      })
    )
  })
