import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Redacted } from "effect"
import { KeyManagement } from "../../ports/KeyManagement.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")

/** Flips one bit in a copy. */
export const flipped = (bytes: Uint8Array, at = bytes.length - 1) => {
  const copy = Uint8Array.from(bytes)
  copy[at] = (copy[at] ?? 0) ^ 1
  return copy
}

/** Neither the string form nor the JSON form of `error` shows any of `secrets`. */
export const assertReveals = (error: unknown, secrets: ReadonlyArray<Uint8Array | string>) => {
  const shown = `${String(error)}\n${JSON.stringify(error)}`
  for (const secret of secrets) {
    const forms = typeof secret === "string" ? [secret] : [hex(secret), base64(secret)]
    for (const form of forms) assert.isFalse(shown.includes(form), "an error reveals secret material")
  }
}

/**
 * What every KeyManagement adapter must do. `otherKeyId` names a second
 * master key the adapter can wrap under.
 */
export const keyManagementContract = <E>(
  name: string,
  keys: Layer.Layer<KeyManagement, E>,
  options: { readonly otherKeyId: string }
) =>
  layer(keys)(`KeyManagement contract: ${name}`, (it) => {
    it.effect("generates a fresh 256-bit data key wrapped under the current master key", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const a = yield* km.generateDataKey
        const b = yield* km.generateDataKey
        assert.strictEqual(Redacted.value(a.plaintext).length, 32)
        assert.strictEqual(a.keyId, km.currentKeyId)
        assert.notStrictEqual(hex(Redacted.value(a.plaintext)), hex(Redacted.value(b.plaintext)))
        assert.isFalse(hex(a.wrapped).includes(hex(Redacted.value(a.plaintext))))
        assert.strictEqual(String(a.plaintext), "<redacted>")
      })
    )

    it.effect("decrypts a wrapped data key back to the same bytes", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const key = yield* km.generateDataKey
        const plain = yield* km.decrypt(key.wrapped, key.keyId)
        assert.strictEqual(hex(Redacted.value(plain)), hex(Redacted.value(key.plaintext)))
      })
    )

    it.effect("refuses a tampered wrapped key or the wrong master key as SecretUnreadable, revealing nothing", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const key = yield* km.generateDataKey
        const secret = Uint8Array.from(Redacted.value(key.plaintext))
        const tampered = yield* Effect.flip(km.decrypt(flipped(key.wrapped), key.keyId))
        assert.strictEqual(tampered._tag, "SecretUnreadable")
        assertReveals(tampered, [secret])
        const truncated = yield* Effect.flip(km.decrypt(key.wrapped.subarray(0, 8), key.keyId))
        assert.strictEqual(truncated._tag, "SecretUnreadable")
        const wrongKey = yield* Effect.flip(km.decrypt(key.wrapped, options.otherKeyId))
        assert.strictEqual(wrongKey._tag, "SecretUnreadable")
        assertReveals(wrongKey, [secret])
      })
    )

    it.effect("re-encrypts under another master key without changing the data key", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const key = yield* km.generateDataKey
        const moved = yield* km.reEncrypt(key.wrapped, key.keyId, options.otherKeyId)
        assert.notStrictEqual(moved.keyId, key.keyId)
        assert.notStrictEqual(hex(moved.wrapped), hex(key.wrapped))
        const plain = yield* km.decrypt(moved.wrapped, moved.keyId)
        assert.strictEqual(hex(Redacted.value(plain)), hex(Redacted.value(key.plaintext)))
        const underOld = yield* Effect.flip(km.decrypt(moved.wrapped, key.keyId))
        assert.strictEqual(underOld._tag, "SecretUnreadable")
        const back = yield* km.reEncrypt(moved.wrapped, moved.keyId, key.keyId)
        assert.strictEqual(back.keyId, key.keyId)
        const again = yield* km.decrypt(back.wrapped, back.keyId)
        assert.strictEqual(hex(Redacted.value(again)), hex(Redacted.value(key.plaintext)))
      })
    )

    it.effect("pings", () => Effect.flatMap(KeyManagement, (km) => km.ping))
  })
