/**
 * HMAC-SHA256 for the webhook verifiers. `hmacSha256(secret, ...parts)` signs the concatenated parts with the UTF-8
 * bytes of the secret through the `HmacSha256Signer` reference: WebCrypto (`crypto.subtle` from effect's `WebCrypto`
 * reference) by default, so it runs unchanged on Node and Deno; Node provides a synchronous signer (`NodeHmac`).
 */
import { Context, Effect } from "effect"
import { WebCrypto } from "effect/crypto"

const utf8 = new TextEncoder()

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

// Imported keys are kept per secret (a handful: the configured ones and recently used connection secrets), so the
// hot path signs without importing the key again; non-extractable, they never leave WebCrypto.
const keyCache = new Map<string, Promise<CryptoKey>>()
const keyCacheSize = 256
const importedKey = (subtle: SubtleCrypto, secret: string): Promise<CryptoKey> => {
  let key = keyCache.get(secret)
  if (key === undefined) {
    if (keyCache.size >= keyCacheSize) keyCache.delete(keyCache.keys().next().value!)
    key = subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    key.catch(() => keyCache.delete(secret))
    keyCache.set(secret, key)
  }
  return key
}

const webCryptoSigner = (secret: string, parts: ReadonlyArray<Uint8Array | string>): Effect.Effect<Uint8Array> =>
  Effect.gen(function* () {
    const crypto = yield* WebCrypto.WebCrypto
    const data = concat(parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p)))
    return yield* Effect.promise(async () => {
      const key = await importedKey(crypto.subtle, secret)
      return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as BufferSource))
    })
  })

/** Signs `parts` (concatenated) under `secret`. */
export type HmacSha256Sign = (secret: string, parts: ReadonlyArray<Uint8Array | string>) => Effect.Effect<Uint8Array>

export const HmacSha256Signer = Context.Reference<HmacSha256Sign>("integration-service/webhook/HmacSha256Signer", {
  defaultValue: () => webCryptoSigner
})

/** Callers refuse empty secrets first: WebCrypto rejects a zero-length HMAC key, which would surface as a defect. */
export const hmacSha256 = (secret: string, ...parts: ReadonlyArray<Uint8Array | string>): Effect.Effect<Uint8Array> =>
  Effect.flatMap(HmacSha256Signer, (sign) => sign(secret, parts))
