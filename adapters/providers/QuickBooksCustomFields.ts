import { Effect, Redacted } from "effect"
import OAuthClient from "intuit-oauth"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import type { FieldSpec } from "../../domain/mapping/FieldCatalog.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import type { DiscoveryRequest } from "../../ports/CustomFieldDiscovery.ts"
import type { QuickBooksEnvironment } from "./QuickBooksOAuth.ts"

interface PreferenceField {
  readonly Name?: unknown
  readonly BooleanValue?: unknown
  readonly StringValue?: unknown
}
interface Preferences {
  readonly Preferences?: {
    readonly SalesFormsPrefs?: {
      readonly CustomField?: ReadonlyArray<{ readonly CustomField?: ReadonlyArray<PreferenceField> }>
    }
  }
}

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "quickbooks", message, retryable })

/** intuit-oauth rejects with the status in `code` (a string) or on `response`. */
const classify = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  const c = (typeof cause === "object" && cause !== null ? cause : {}) as {
    readonly code?: unknown
    readonly response?: { readonly status?: unknown }
  }
  const status = Number(c.response?.status ?? c.code)
  if (!Number.isInteger(status)) return unavailable("QuickBooks API unreachable", true)
  if (status === 401)
    return new OAuthGrantRejected({
      provider: "quickbooks",
      code: "unauthorized",
      message: "QuickBooks refused the access token"
    })
  return unavailable(`QuickBooks preferences answered ${status}`, status === 408 || status === 429 || status >= 500)
}

/** Sales forms (sales receipts, invoices) carry the company's custom fields; nothing else does in this API. */
const withCustomFields = new Set(["order", "invoice"])

/**
 * The sales-form custom fields of the company (Preferences `SalesFormsPrefs.CustomField`: `UseSalesCustomName<n>`
 * turns definition n on, `SalesCustomName<n>` names it), through intuit-oauth's `makeApiCall`. Values hold 31
 * characters. Turning a field off in QuickBooks removes it here.
 */
export const quickBooksCustomFields = (config: {
  readonly environment: QuickBooksEnvironment
  readonly apiBaseUrl: string
  readonly timeoutMs: number
}) =>
  Effect.fn("QuickBooksCustomFields.discover")(function* (request: DiscoveryRequest) {
    if (!withCustomFields.has(request.entityType)) return []
    const realm = request.accountId
    if (realm === null) return yield* unavailable("the connection has no QuickBooks company; connect again", false)
    const client = new OAuthClient({
      environment: config.environment,
      clientId: "",
      clientSecret: "",
      redirectUri: "",
      logging: false
    })
    client.setToken({ access_token: Redacted.value(request.accessToken) })
    const response = yield* Effect.tryPromise({
      try: () =>
        client.makeApiCall({
          url: `${new URL(`/v3/company/${encodeURIComponent(realm)}/preferences`, config.apiBaseUrl)}?minorversion=75`,
          method: "GET",
          timeout: config.timeoutMs
        }),
      catch: classify
    })
    const groups = (response.json as Preferences | null)?.Preferences?.SalesFormsPrefs?.CustomField ?? []
    const settings = groups.flatMap((g) => g.CustomField ?? [])
    const setting = (name: string) => settings.find((s) => s.Name === `SalesFormsPrefs.${name}`)
    return [1, 2, 3].flatMap((n): ReadonlyArray<FieldSpec> => {
      const label = setting(`SalesCustomName${n}`)?.StringValue
      if (setting(`UseSalesCustomName${n}`)?.BooleanValue !== true || typeof label !== "string") return []
      return [
        {
          path: `CustomField[DefinitionId=${n}].StringValue`,
          type: "string",
          maxLength: 31,
          custom: { stableId: String(n), name: label }
        }
      ]
    })
  })
