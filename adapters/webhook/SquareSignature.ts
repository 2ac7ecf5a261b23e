/**
 * Square `x-square-hmacsha256-signature`: base64 HMAC-SHA256 of `notificationUrl + raw`, where the URL is the configured
 * subscription URL byte for byte (never rebuilt from the request's Host header).
 */
import { Effect, Redacted } from "effect"
import { Base64 } from "effect/encoding"
import type { InvalidSignature } from "../../domain/WebhookEvent.ts"
import { stringsEqual } from "./ConstantTime.ts"
import { hmacSha256 } from "./HmacSha256.ts"
import { reject } from "./Rejection.ts"

export interface SquareSignatureInput {
  readonly raw: Uint8Array
  readonly header: string | undefined
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly notificationUrl: string | undefined
}

export const verifySquareSignature: (input: SquareSignatureInput) => Effect.Effect<void, InvalidSignature> = Effect.fn(
  "SquareSignature.verify"
)(function* (input: SquareSignatureInput) {
  const secrets = input.secrets.map(Redacted.value).filter((secret) => secret !== "")
  if (secrets.length === 0) return yield* reject("square", "no signature key configured")
  const url = input.notificationUrl
  if (url === undefined || url === "") return yield* reject("square", "no notification URL configured")
  const header = input.header
  if (header === undefined || header === "") return yield* reject("square", "missing x-square-hmacsha256-signature")
  const expected = yield* Effect.forEach(secrets, (secret) =>
    Effect.map(hmacSha256(secret, url, input.raw), Base64.encode)
  )
  if (!expected.reduce((ok, mac) => stringsEqual(mac, header) || ok, false)) {
    return yield* reject("square", "signature did not match")
  }
})
