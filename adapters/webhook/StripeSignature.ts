/**
 * Stripe `Stripe-Signature: t=…,v1=…[,v1=…]`: lowercase-hex HMAC-SHA256 of `${t}.${raw}`. Any v1 may match under any
 * of the (rolling) secrets, and `t` must be within the tolerance of the Effect `Clock` in BOTH directions.
 */
import { Clock, Effect, Redacted } from "effect"
import { Hex } from "effect/encoding"
import type { InvalidSignature } from "../../domain/WebhookEvent.ts"
import { stringsEqual } from "./ConstantTime.ts"
import { hmacSha256 } from "./HmacSha256.ts"
import { reject } from "./Rejection.ts"

export const stripeToleranceSeconds = 300

export interface StripeSignatureInput {
  readonly raw: Uint8Array
  readonly header: string | undefined
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly toleranceSeconds?: number | undefined
}

/** `t` stays text: the MAC covers it exactly as sent. */
const parseHeader = (header: string) => {
  let timestamp: string | undefined
  const signatures: Array<string> = []
  for (const part of header.split(",")) {
    const at = part.indexOf("=")
    if (at < 0) continue
    const key = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (key === "t" && /^\d{1,15}$/.test(value)) timestamp = value
    else if (key === "v1") signatures.push(value)
  }
  return { timestamp, signatures }
}

export const verifyStripeSignature: (input: StripeSignatureInput) => Effect.Effect<void, InvalidSignature> = Effect.fn(
  "StripeSignature.verify"
)(function* (input: StripeSignatureInput) {
  const secrets = input.secrets.map(Redacted.value).filter((secret) => secret !== "")
  if (secrets.length === 0) return yield* reject("stripe", "no secret configured")
  if (input.header === undefined) return yield* reject("stripe", "missing Stripe-Signature header")
  const { timestamp, signatures } = parseHeader(input.header)
  if (timestamp === undefined) return yield* reject("stripe", "header has no timestamp")
  if (signatures.length === 0) return yield* reject("stripe", "header has no v1 signature")
  const expected = yield* Effect.forEach(secrets, (secret) =>
    Effect.map(hmacSha256(secret, `${timestamp}.`, input.raw), Hex.encode)
  )
  // Every pair is compared, so the time taken does not reveal which secret or which v1 matched.
  const matched = expected.reduce(
    (ok, mac) => signatures.reduce((acc, sig) => stringsEqual(mac, sig) || acc, ok),
    false
  )
  if (!matched) return yield* reject("stripe", "no signature matched")
  const ageSeconds = (yield* Clock.currentTimeMillis) / 1000 - Number(timestamp)
  const tolerance = input.toleranceSeconds ?? stripeToleranceSeconds
  if (ageSeconds > tolerance) return yield* reject("stripe", "timestamp older than the tolerance")
  if (ageSeconds < -tolerance) return yield* reject("stripe", "timestamp in the future beyond the tolerance")
})
