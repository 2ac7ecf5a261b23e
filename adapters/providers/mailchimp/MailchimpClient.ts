import { createRequire } from "node:module"
import { Clock, Config, Duration, Effect, Option, Redacted } from "effect"
import type { DataCredential, ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import { mailchimpCallFailed } from "./MailchimpDataFailure.ts"

export interface MembersPage {
  readonly members?: ReadonlyArray<Record<string, unknown>>
  readonly total_items?: unknown
}

/** A batch as `POST /batches` and `GET /batches/{id}` answer it (the fields the writer reads). */
export interface BatchStatus {
  readonly id?: unknown
  readonly status?: unknown
  readonly response_body_url?: unknown
}

/** The part of `@mailchimp/mailchimp_marketing`'s client the reader and the writer call. */
export interface MarketingClient {
  basePath: string
  timeout: number
  setConfig: (config: { readonly accessToken: string }) => void
  readonly lists: {
    readonly getAllLists: (
      opts: Record<string, unknown>
    ) => Promise<{ readonly lists?: ReadonlyArray<{ id?: unknown }> }>
    readonly getListMembersInfoWithHttpInfo: (
      listId: string,
      opts: Record<string, unknown>
    ) => Promise<{ readonly data: MembersPage; readonly response: { readonly headers?: Record<string, unknown> } }>
    readonly setListMember: (
      listId: string,
      subscriberHash: string,
      body: Record<string, unknown>
    ) => Promise<Record<string, unknown>>
    readonly updateListMember: (
      listId: string,
      subscriberHash: string,
      body: Record<string, unknown>
    ) => Promise<Record<string, unknown>>
    readonly deleteListMember: (listId: string, subscriberHash: string) => Promise<unknown>
  }
  readonly ecommerce: {
    readonly getStore: (storeId: string, opts: Record<string, unknown>) => Promise<Record<string, unknown>>
    readonly addStore: (body: Record<string, unknown>) => Promise<Record<string, unknown>>
    readonly addStoreProduct: (storeId: string, body: Record<string, unknown>) => Promise<Record<string, unknown>>
    readonly addStoreOrder: (storeId: string, body: Record<string, unknown>) => Promise<Record<string, unknown>>
    readonly updateOrder: (
      storeId: string,
      orderId: string,
      body: Record<string, unknown>
    ) => Promise<Record<string, unknown>>
    readonly deleteOrder: (storeId: string, orderId: string) => Promise<unknown>
    readonly deleteOrderLineItem: (storeId: string, orderId: string, lineId: string) => Promise<unknown>
  }
  readonly batches: {
    readonly start: (body: { readonly operations: ReadonlyArray<Record<string, unknown>> }) => Promise<BatchStatus>
    readonly status: (batchId: string) => Promise<BatchStatus>
  }
}

// The package entry is one process-wide client; each use builds its own from the SDK's class.
const MarketingClientClass = createRequire(import.meta.url)(
  "@mailchimp/mailchimp_marketing/src/ApiClient.js"
) as new () => MarketingClient

export interface MailchimpClientConfig {
  /** A Mailchimp-compatible server (the sandbox fake) for every account; else each account's `api_endpoint`. */
  readonly baseUrl: Option.Option<string>
  readonly timeout: Duration.Input
}

/** MAILCHIMP_API_BASE_URL (optional) and PROVIDER_TIMEOUT (default 30 s, per call): the reader's and writer's. */
export const MailchimpClientConfig = Config.all({
  baseUrl: Config.option(Config.URL("MAILCHIMP_API_BASE_URL")).pipe(
    Config.map(Option.map((url) => url.toString().replace(/\/+$/, "")))
  ),
  timeout: Config.Duration("PROVIDER_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
})

/** The marketing SDK for one account and the way its calls fail; undefined client when no API endpoint is known. */
export const mailchimpClient = (config: MailchimpClientConfig) => {
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(config.timeout))

  const clientFor = (credential: DataCredential): MarketingClient | undefined => {
    const host =
      Option.getOrUndefined(config.baseUrl) ??
      credential.extra.apiEndpoint?.replace(/\/+$/, "") ??
      (credential.extra.dc === undefined ? undefined : `https://${credential.extra.dc}.api.mailchimp.com`)
    if (host === undefined) return undefined
    const client = new MarketingClientClass()
    // No `server`: the SDK would replace the first "server" in the URL with it, and basePath is already whole.
    client.setConfig({ accessToken: Redacted.value(credential.token) })
    client.basePath = `${host}/3.0`
    client.timeout = timeoutMs
    return client
  }

  const call = <A>(name: string, run: () => Promise<A>): Effect.Effect<A, ProviderCallFailed> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({ try: run, catch: mailchimpCallFailed(name, timeoutMs, () => now) })
    )

  /** The account's oldest audience: the one Mailchimp creates with the account. */
  const oldestAudience = (client: MarketingClient) =>
    call("GET /lists", () =>
      client.lists.getAllLists({ count: 1, sortField: "date_created", sortDir: "ASC", fields: ["lists.id"] })
    ).pipe(
      Effect.map((found) => {
        const id = found.lists?.[0]?.id
        return typeof id === "string" && id !== "" ? id : null
      })
    )

  return { timeoutMs, clientFor, call, oldestAudience }
}
