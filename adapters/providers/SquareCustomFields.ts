import { Effect, Redacted } from "effect"
import { SquareClient, SquareError, SquareTimeoutError } from "square"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import type { FieldSpec, FieldType } from "../../domain/mapping/FieldCatalog.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import type { DiscoveryRequest } from "../../ports/CustomFieldDiscovery.ts"

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "square", message, retryable })

const classify = (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
  if (cause instanceof SquareTimeoutError) return unavailable("Square custom attribute definitions timed out", true)
  if (!(cause instanceof SquareError) || cause.statusCode === undefined)
    return unavailable("Square API unreachable", true)
  const status = cause.statusCode
  const code = cause.errors[0]?.code ?? "Unknown"
  if (status === 401)
    return new OAuthGrantRejected({ provider: "square", code, message: `Square refused the access token (${code})` })
  return unavailable(
    `Square custom attribute definitions answered ${status} ${code}`,
    status === 408 || status === 429 || status >= 500
  )
}

/** Square's attribute schemas (`…/common.json#squareup.common.<Type>`) as catalog types. */
const typeOf = (ref: unknown): FieldType => {
  const name = typeof ref === "string" ? ref.split(".").at(-1) : undefined
  switch (name) {
    case "Number":
      return "number"
    case "Boolean":
      return "boolean"
    case "Email":
      return "email"
    case "PhoneNumber":
      return "phone"
    case "Date":
      return "date"
    default:
      return "string"
  }
}

/** The seller's customer custom attribute definitions (`ListCustomerCustomAttributeDefinitions`, every page). */
export const squareCustomFields = (config: { readonly baseUrl: string; readonly timeoutSeconds: number }) =>
  Effect.fn("SquareCustomFields.discover")(function* (request: DiscoveryRequest) {
    if (request.entityType !== "customer") return []
    const client = new SquareClient({
      baseUrl: config.baseUrl,
      token: Redacted.value(request.accessToken),
      maxRetries: 0,
      timeoutInSeconds: config.timeoutSeconds
    })
    const definitions = yield* Effect.tryPromise({
      try: async (signal) => {
        const all = []
        for await (const definition of await client.customers.customAttributeDefinitions.list(
          { limit: 100 },
          { abortSignal: signal }
        ))
          all.push(definition)
        return all
      },
      catch: classify
    })
    return definitions.flatMap((d): ReadonlyArray<FieldSpec> => {
      const key = d.key
      if (key === undefined || key === null) return []
      const schema = d.schema as { readonly $ref?: unknown } | undefined | null
      return [
        {
          path: `custom_attributes.${key}.value`,
          type: typeOf(schema?.$ref),
          ...(d.description ? { description: d.description } : {}),
          custom: { stableId: key, name: d.name ?? key }
        }
      ]
    })
  })
