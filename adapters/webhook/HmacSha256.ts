/**
 * HMAC-SHA256 on WebCrypto (`crypto.subtle` from effect's `WebCrypto` reference), so it runs unchanged on Node and
 * Deno. `hmacSha256(secret, ...parts)` signs the concatenated parts with the UTF-8 bytes of the secret.
 */
import { Effect } from "effect"
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

/** Callers refuse empty secrets first: WebCrypto rejects a zero-length HMAC key, which would surface as a defect. */
export const hmacSha256 = (secret: string, ...parts: ReadonlyArray<Uint8Array | string>): Effect.Effect<Uint8Array> =>
  Effect.gen(function* () {
    const crypto = yield* WebCrypto.WebCrypto
    const data = concat(parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p)))
    return yield* Effect.promise(async () => {
      const params = { name: "HMAC", hash: "SHA-256" }
      const key = await crypto.subtle.importKey("raw", utf8.encode(secret), params, false, ["sign"])
      return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as BufferSource))
    })
  })
