import { Schema } from "effect"

export const Provider = Schema.Literals(["stripe", "square", "mailchimp", "quickbooks"])
export type Provider = typeof Provider.Type

export const AuthType = Schema.Literals(["api_key", "oauth2"])
export type AuthType = typeof AuthType.Type

/** How each provider is connected: Stripe by a venue's own secret key, the others by OAuth. */
export const authTypeOf = (provider: Provider): AuthType => (provider === "stripe" ? "api_key" : "oauth2")

export const providers: ReadonlyArray<Provider> = Provider.literals
