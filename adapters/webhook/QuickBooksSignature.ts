/**
 * QuickBooks `intuit-signature`: base64 HMAC-SHA256 of the raw body under the app's webhook verifier token. The same
 * scheme covers the legacy `eventNotifications` object and the CloudEvents array.
 */
import { Effect, Redacted } from "effect"
import { Base64 } from "effect/encoding"
import type { InvalidSignature } from "../../domain/WebhookEvent.ts"
import { stringsEqual } from "./ConstantTime.ts"
import { hmacSha256 } from "./HmacSha256.ts"
import { reject } from "./Rejection.ts"

export interface QuickBooksSignatureInput {
  readonly raw: Uint8Array
  readonly header: string | undefined
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
}

export const verifyQuickBooksSignature: (input: QuickBooksSignatureInput) => Effect.Effect<void, InvalidSignature> =
  Effect.fn("QuickBooksSignature.verify")(function* (input: QuickBooksSignatureInput) {
    const secrets = input.secrets.map(Redacted.value).filter((secret) => secret !== "")
    if (secrets.length === 0) return yield* reject("quickbooks", "no verifier token configured")
    const header = input.header
    if (header === undefined || header === "") return yield* reject("quickbooks", "missing intuit-signature")
    const expected = yield* Effect.forEach(secrets, (secret) =>
      Effect.map(hmacSha256(secret, input.raw), Base64.encode)
    )
    if (!expected.reduce((ok, mac) => stringsEqual(mac, header) || ok, false)) {
      return yield* reject("quickbooks", "signature did not match")
    }
  })
