import { Schema } from "effect"

/**
 * What a venue chose for a connection after connecting it (`connections.settings`, the seed's integration_configs):
 * Mailchimp's audience, which a token does not name (one account holds several).
 */
export const ConnectionSettings = Schema.Struct({
  listId: Schema.optionalKey(Schema.String)
})
export type ConnectionSettings = typeof ConnectionSettings.Type

/** Settings to set, or with `null` to clear; the others stay as they are. */
export type SettingsChanges = { readonly [K in keyof ConnectionSettings]-?: ConnectionSettings[K] | null }

/**
 * A Mailchimp audience id as a request names it: letters and digits (Mailchimp's are 10 hex digits), so it is safe
 * in an API path; whether the account has it is Mailchimp's answer.
 */
export const MailchimpListId = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9]{1,64}$/, { message: "a Mailchimp audience id: 1 to 64 letters and digits" })
)
