import type { Effect, Option, Redacted } from "effect"
import { Context } from "effect"
import type { ProviderUnavailable } from "../domain/Errors.ts"
import type { OAuthGrantRejected } from "../domain/OAuth.ts"

/** A connection's way into its Mailchimp account: the access token and where the account's API lives. */
export interface MarketingAccess {
  readonly accessToken: Redacted.Redacted<string>
  /** The account's datacenter (`us19`), from `/oauth2/metadata`. */
  readonly dc: string
  /** `https://<dc>.api.mailchimp.com`, from the same metadata. */
  readonly apiEndpoint: string | undefined
}

/** One of the account's audiences (Mailchimp's lists). */
export interface Audience {
  readonly id: string
  readonly name: string
}

export interface AudienceWebhookRequest {
  /** Where Mailchimp posts; it carries the URL secret, so it stays redacted. */
  readonly url: Redacted.Redacted<string>
  /** Mailchimp event types (`unsubscribe`, `cleaned`, `upemail`, …). */
  readonly events: ReadonlyArray<string>
}

/**
 * The account's audiences and their webhooks, through the Marketing API's official SDK. A token the API refuses (401)
 * is `OAuthGrantRejected`; 5xx, 429, timeouts and network failures are retryable `ProviderUnavailable`.
 */
export class MarketingAudiences extends Context.Service<
  MarketingAudiences,
  {
    /** The account's audience with this id (`GET /lists/{id}`); none when the account has no such audience. */
    readonly find: (
      access: MarketingAccess,
      listId: string
    ) => Effect.Effect<Option.Option<Audience>, OAuthGrantRejected | ProviderUnavailable>
    /**
     * Asks Mailchimp to post the audience's events to `url` (`POST /lists/{id}/webhooks`), for changes made by
     * subscribers and in Mailchimp's own interface, not through the API (our own writes must not echo back).
     * Answers Mailchimp's webhook id.
     */
    readonly registerWebhook: (
      access: MarketingAccess,
      listId: string,
      webhook: AudienceWebhookRequest
    ) => Effect.Effect<string, OAuthGrantRejected | ProviderUnavailable>
    /** Deletes a webhook registered by `registerWebhook`; one already gone counts as removed. */
    readonly removeWebhook: (
      access: MarketingAccess,
      listId: string,
      webhookId: string
    ) => Effect.Effect<void, OAuthGrantRejected | ProviderUnavailable>
  }
>()("integration-service/ports/MarketingAudiences") {}
