import { createRequire } from "node:module"
import { Redacted } from "effect"
import type { MarketingAccess } from "../../ports/MarketingAudiences.ts"

/** The part of `@mailchimp/mailchimp_marketing`'s client the service calls. */
export interface MarketingClient {
  basePath: string
  timeout: number
  setConfig: (config: { readonly accessToken: string; readonly server: string }) => void
  readonly ping: { readonly get: () => Promise<unknown> }
  readonly lists: {
    readonly getList: (listId: string, opts?: { readonly fields?: ReadonlyArray<string> }) => Promise<unknown>
    readonly createListWebhook: (listId: string, body: object) => Promise<unknown>
    readonly deleteListWebhook: (listId: string, webhookId: string) => Promise<unknown>
  }
}

/** The SDK's client class: its package entry is one process-wide instance, so each call builds its own. */
const MarketingClientClass = createRequire(import.meta.url)(
  "@mailchimp/mailchimp_marketing/src/ApiClient.js"
) as new () => MarketingClient

/** A client for one account: its token, at the metadata's `api_endpoint` (`https://<dc>.api.mailchimp.com`). */
export const marketingClient = (access: MarketingAccess, timeoutMs: number): MarketingClient => {
  const client = new MarketingClientClass()
  client.setConfig({ accessToken: Redacted.value(access.accessToken), server: access.dc })
  if (access.apiEndpoint !== undefined) client.basePath = `${access.apiEndpoint.replace(/\/$/, "")}/3.0`
  client.timeout = timeoutMs
  return client
}

/** superagent's rejection: `status` when Mailchimp answered, `timeout` when it did not in time. */
export interface MarketingFailure {
  readonly status?: unknown
  readonly timeout?: unknown
}

export const marketingFailure = (cause: unknown): MarketingFailure =>
  (typeof cause === "object" && cause !== null ? cause : {}) as MarketingFailure
