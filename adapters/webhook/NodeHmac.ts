/**
 * HMAC-SHA256 on `node:crypto`, synchronous: on the webhook hot path it costs a couple of microseconds on the event
 * loop instead of a WebCrypto job on the thread pool and a promise round trip per delivery. `NodeHmac.layer`
 * installs it as the verifiers' `HmacSha256Signer` (Deno keeps the WebCrypto default).
 */
import { createHmac } from "node:crypto"
import { Effect, Layer } from "effect"
import { type HmacSha256Sign, HmacSha256Signer } from "./HmacSha256.ts"

const sign: HmacSha256Sign = (secret, parts) =>
  Effect.sync(() => {
    const mac = createHmac("sha256", secret)
    for (const part of parts) mac.update(part)
    return new Uint8Array(mac.digest())
  })

export const NodeHmac = { sign, layer: Layer.succeed(HmacSha256Signer, sign) } as const
