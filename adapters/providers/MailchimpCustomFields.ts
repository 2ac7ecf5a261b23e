import { createRequire } from "node:module"
import { Effect, Redacted } from "effect"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import type { FieldSpec } from "../../domain/mapping/FieldCatalog.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import type { DiscoveryRequest } from "../../ports/CustomFieldDiscovery.ts"

interface MarketingClient {
  basePath: string
  timeout: number
  setConfig: (config: { readonly accessToken: string; readonly server: string }) => void
}
interface ListsApi {
  readonly getAllLists: (opts: Record<string, unknown>) => Promise<{ readonly lists?: ReadonlyArray<{ id?: unknown }> }>
  readonly getListMergeFields: (listId: string, opts: Record<string, unknown>) => Promise<MergeFields>
}
interface MergeField {
  readonly merge_id?: unknown
  readonly tag?: unknown
  readonly name?: unknown
  readonly type?: unknown
  readonly required?: unknown
  readonly options?: { readonly size?: unknown; readonly choices?: unknown }
}
interface MergeFields {
  readonly merge_fields?: ReadonlyArray<MergeField>
}

// The package entry is one process-wide client; each call builds its own from the SDK's classes.
const require = createRequire(import.meta.url)
const MarketingClient = require("@mailchimp/mailchimp_marketing/src/ApiClient.js") as new () => MarketingClient
const ListsApi = require("@mailchimp/mailchimp_marketing/src/api/ListsApi.js") as new (
  client: MarketingClient
) => ListsApi

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "mailchimp", message, retryable })

const classify = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const status = typeof cause === "object" && cause !== null ? (cause as { status?: unknown }).status : undefined
  if (typeof status !== "number") return unavailable("Mailchimp API unreachable", true)
  if (status === 401)
    return new OAuthGrantRejected({
      provider: "mailchimp",
      code: "invalid_token",
      message: "Mailchimp refused the access token"
    })
  return unavailable(`Mailchimp merge fields answered ${status}`, status === 408 || status === 429 || status >= 500)
}

/** Mailchimp merge field types as catalog types; text fields hold 255 characters unless `options.size` says less. */
const toSpec = (f: MergeField): ReadonlyArray<FieldSpec> => {
  if (typeof f.tag !== "string" || (typeof f.merge_id !== "number" && typeof f.merge_id !== "string")) return []
  const custom = { stableId: String(f.merge_id), name: typeof f.name === "string" ? f.name : f.tag }
  const path = `merge_fields.${f.tag}`
  const choices = Array.isArray(f.options?.choices) ? f.options.choices.filter((c) => typeof c === "string") : []
  const required = f.required === true ? { required: true } : {}
  switch (f.type) {
    case "number":
      return [{ path, type: "number", ...required, custom }]
    case "address":
      return [{ path, type: "object", ...required, custom }]
    case "dropdown":
    case "radio":
      return [{ path, type: "enum", values: choices, ...required, custom }]
    default: {
      const size = typeof f.options?.size === "number" && f.options.size > 0 ? f.options.size : 255
      return [{ path, type: "string", maxLength: size, ...required, custom }]
    }
  }
}

/**
 * The merge fields of the account's audience (`GET /lists/{id}/merge-fields`, up to 1000) through the marketing
 * SDK: the audience the venue chose, else the account's oldest (the one Mailchimp creates with the account).
 */
export const mailchimpCustomFields = (timeoutMs: number) =>
  Effect.fn("MailchimpCustomFields.discover")(function* (request: DiscoveryRequest) {
    if (request.entityType !== "contact") return []
    const { dc, apiEndpoint } = request.extra
    if (dc === undefined) return yield* unavailable("the connection has no Mailchimp datacenter; connect again", false)
    const client = new MarketingClient()
    client.setConfig({ accessToken: Redacted.value(request.accessToken), server: dc })
    if (apiEndpoint !== undefined) client.basePath = `${apiEndpoint.replace(/\/$/, "")}/3.0`
    client.timeout = timeoutMs
    const lists = new ListsApi(client)
    const audience =
      request.audienceId ??
      (yield* Effect.tryPromise({
        try: () => lists.getAllLists({ count: 1, sortField: "date_created", sortDir: "ASC", fields: ["lists.id"] }),
        catch: classify
      })).lists?.[0]?.id
    if (typeof audience !== "string") return []
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": audience })
    const found = yield* Effect.tryPromise({
      try: () => lists.getListMergeFields(audience, { count: 1000 }),
      catch: classify
    })
    return (found.merge_fields ?? []).flatMap(toSpec)
  })
