/**
 * Mailchimp signs nothing: its webhook URL carries a secret query parameter (`?secret=…`), compared in constant time
 * with the secret of the connection whose endpoint the URL names (`?endpoint=`, registered by MailchimpAudience).
 */
import { Effect, Redacted } from "effect"
import type { InvalidSignature } from "../../domain/WebhookEvent.ts"
import { stringsEqual } from "./ConstantTime.ts"
import { reject } from "./Rejection.ts"

export const mailchimpSecretParam = "secret"

export interface MailchimpSecretInput {
  readonly provided: string | undefined
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
}

export const verifyMailchimpSecret: (input: MailchimpSecretInput) => Effect.Effect<void, InvalidSignature> = Effect.fn(
  "MailchimpSecret.verify"
)(function* (input: MailchimpSecretInput) {
  const secrets = input.secrets.map(Redacted.value).filter((secret) => secret !== "")
  if (secrets.length === 0) return yield* reject("mailchimp", "no secret configured")
  const provided = input.provided
  if (provided === undefined || provided === "") return yield* reject("mailchimp", "missing secret parameter")
  if (!secrets.reduce((ok, secret) => stringsEqual(secret, provided) || ok, false)) {
    return yield* reject("mailchimp", "secret did not match")
  }
})
