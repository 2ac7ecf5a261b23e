/**
 * Provider webhooks as normalized events, parsed only after the signature is verified:
 * `parseWebhook(provider, raw, contentType)` → `Effect<ReadonlyArray<WebhookEvent>, MalformedWebhook>`.
 */
import { DateTime, Effect, Option, Result, Schema } from "effect"
import { WebCrypto } from "effect/crypto"
import { Hex } from "effect/encoding"
import { type FormMap, parseFormBody } from "./FormBody.ts"
import { Provider } from "./Provider.ts"

/**
 * `eventId` is the de-duplication key within a provider; `accountId` routes to a connection (Stripe Connect account,
 * Square merchant, QuickBooks realm, Mailchimp list); `payload` is the event's own JSON.
 */
export const WebhookEvent = Schema.Struct({
  provider: Provider,
  eventId: Schema.String,
  type: Schema.String,
  accountId: Schema.NullOr(Schema.String),
  occurredAt: Schema.NullOr(Schema.DateTimeUtc),
  payload: Schema.Json
})
export type WebhookEvent = typeof WebhookEvent.Type

/** The webhook is not authentic. Deliberately says nothing about why: that only helps a forger. */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()(
  "InvalidSignature",
  { provider: Provider },
  { httpApiStatus: 400 }
) {
  override get message(): string {
    return "invalid webhook signature"
  }
}

/** An authentic webhook whose body is not what the provider documents; `message` names the field. */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>()(
  "MalformedWebhook",
  { provider: Provider, message: Schema.String },
  { httpApiStatus: 400 }
) {}

type Json = Schema.Json
type JsonObject = Schema.JsonObject

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const malformed = (provider: Provider, message: string) => Effect.fail(new MalformedWebhook({ provider, message }))

const requiredString = (provider: Provider, where: string, object: JsonObject, field: string) => {
  const value = object[field]
  return typeof value === "string" && value !== ""
    ? Effect.succeed(value)
    : malformed(provider, `${where}.${field} must be a non-empty string`)
}

const optionalString = (provider: Provider, where: string, object: JsonObject, field: string) => {
  const value = object[field]
  if (value === undefined || value === null) return Effect.succeed(null)
  return typeof value === "string" ? Effect.succeed(value) : malformed(provider, `${where}.${field} must be a string`)
}

// ISO 8601 and Mailchimp's "Y-m-d H:i:s"; no zone means UTC; fractions are cut to milliseconds for every runtime.
const timestamp = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i

/** An unreadable time becomes null rather than a refusal: it is informational, and a refusal makes providers retry. */
const parseTime = (value: string | null): DateTime.Utc | null => {
  const match = value === null ? null : timestamp.exec(value)
  if (match === null) return null
  const [, date, time, fraction = "", zone = "Z"] = match
  const offset = zone.toUpperCase() === "Z" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`
  const iso = `${date}T${time}${fraction.slice(0, 4)}${offset}`
  return Option.getOrNull(Option.map(DateTime.make(iso), DateTime.toUtc))
}

const fromUnixSeconds = (value: Json | undefined): DateTime.Utc | null =>
  typeof value === "number" && Number.isFinite(value) ? DateTime.makeUnsafe(value * 1000) : null

const mediaType = (contentType: string | undefined) => contentType?.split(";")[0]?.trim().toLowerCase()

const decodeText = (provider: Provider, raw: Uint8Array) =>
  Effect.try({
    try: () => new TextDecoder("utf-8", { fatal: true }).decode(raw),
    catch: () => new MalformedWebhook({ provider, message: "body is not UTF-8" })
  })

/** Deeper than any provider's documented payload, and well within what PostgreSQL's jsonb parser can take. */
export const maxJsonDepth = 128

/** Whether arrays and objects nest deeper than `max`: one pass over the text, strings skipped. */
const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

const decodeJson = (provider: Provider, raw: Uint8Array, contentType: string | undefined) =>
  Effect.gen(function* () {
    const media = mediaType(contentType)
    if (media !== undefined && !media.endsWith("json")) {
      return yield* malformed(provider, `content type ${media} is not JSON`)
    }
    const text = yield* decodeText(provider, raw)
    if (nestsDeeperThan(text, maxJsonDepth)) return yield* malformed(provider, `body nests deeper than ${maxJsonDepth}`)
    return yield* Effect.try({
      try: () => JSON.parse(text) as Json,
      catch: () => new MalformedWebhook({ provider, message: "body is not valid JSON" })
    })
  })

const jsonObject = (provider: Provider, where: string, value: Json | undefined) =>
  isObject(value) ? Effect.succeed(value) : malformed(provider, `${where} must be a JSON object`)

const jsonArray = (provider: Provider, where: string, value: Json | undefined) =>
  Array.isArray(value) ? Effect.succeed(value as ReadonlyArray<Json>) : malformed(provider, `${where} must be an array`)

/** Stripe event: `id`, `type`, `account` (Connect only), `created` in Unix seconds. */
const parseStripe = (raw: Uint8Array, contentType: string | undefined) =>
  Effect.gen(function* () {
    const body = yield* jsonObject("stripe", "body", yield* decodeJson("stripe", raw, contentType))
    return [
      {
        provider: "stripe" as const,
        eventId: yield* requiredString("stripe", "body", body, "id"),
        type: yield* requiredString("stripe", "body", body, "type"),
        accountId: yield* optionalString("stripe", "body", body, "account"),
        occurredAt: fromUnixSeconds(body.created),
        payload: body
      }
    ]
  })

/** Square event: `event_id`, `type`, `merchant_id`, `created_at`. */
const parseSquare = (raw: Uint8Array, contentType: string | undefined) =>
  Effect.gen(function* () {
    const body = yield* jsonObject("square", "body", yield* decodeJson("square", raw, contentType))
    return [
      {
        provider: "square" as const,
        eventId: yield* requiredString("square", "body", body, "event_id"),
        type: yield* requiredString("square", "body", body, "type"),
        accountId: yield* optionalString("square", "body", body, "merchant_id"),
        occurredAt: parseTime(yield* optionalString("square", "body", body, "created_at")),
        payload: body
      }
    ]
  })

const pastTense: Readonly<Record<string, string>> = {
  create: "created",
  update: "updated",
  delete: "deleted",
  merge: "merged",
  void: "voided",
  emailed: "emailed"
}

/**
 * Legacy QuickBooks entities are mapped onto the CloudEvents vocabulary so consumers see one set of types:
 * `{name: "Customer", operation: "Create"}` → `qbo.customer.created.v1` (an unknown operation is kept, lower-cased).
 */
export const quickBooksLegacyType = (name: string, operation: string): string => {
  const op = operation.toLowerCase()
  return `qbo.${name.toLowerCase()}.${pastTense[op] ?? op}.v1`
}

const quickBooksCloudEvent = (element: Json, index: number) =>
  Effect.gen(function* () {
    const where = `body[${index}]`
    const event = yield* jsonObject("quickbooks", where, element)
    return {
      provider: "quickbooks" as const,
      eventId: yield* requiredString("quickbooks", where, event, "id"),
      type: yield* requiredString("quickbooks", where, event, "type"),
      accountId: yield* optionalString("quickbooks", where, event, "intuitaccountid"),
      occurredAt: parseTime(yield* optionalString("quickbooks", where, event, "time")),
      payload: event
    }
  })

/** Legacy notifications carry no event id: the key is realmId:name:id:operation:lastUpdated (only the last has colons). */
const quickBooksLegacy = (notifications: ReadonlyArray<Json>) =>
  Effect.forEach(notifications, (element, n) =>
    Effect.gen(function* () {
      const where = `eventNotifications[${n}]`
      const notification = yield* jsonObject("quickbooks", where, element)
      const realmId = yield* requiredString("quickbooks", where, notification, "realmId")
      const change = yield* jsonObject("quickbooks", `${where}.dataChangeEvent`, notification.dataChangeEvent)
      const entities = yield* jsonArray("quickbooks", `${where}.dataChangeEvent.entities`, change.entities)
      return yield* Effect.forEach(entities, (item, e) =>
        Effect.gen(function* () {
          const at = `${where}.dataChangeEvent.entities[${e}]`
          const entity = yield* jsonObject("quickbooks", at, item)
          const name = yield* requiredString("quickbooks", at, entity, "name")
          const id = yield* requiredString("quickbooks", at, entity, "id")
          const operation = yield* requiredString("quickbooks", at, entity, "operation")
          const lastUpdated = yield* requiredString("quickbooks", at, entity, "lastUpdated")
          return {
            provider: "quickbooks" as const,
            eventId: `${realmId}:${name}:${id}:${operation}:${lastUpdated}`,
            type: quickBooksLegacyType(name, operation),
            accountId: realmId,
            occurredAt: parseTime(lastUpdated),
            payload: entity
          }
        })
      )
    })
  ).pipe(Effect.map((perNotification) => perNotification.flat()))

/** QuickBooks: a CloudEvents JSON array (one event per element) or the legacy `eventNotifications` object. */
const parseQuickBooks = (raw: Uint8Array, contentType: string | undefined) =>
  Effect.gen(function* () {
    const body = yield* decodeJson("quickbooks", raw, contentType)
    if (Array.isArray(body)) return yield* Effect.forEach(body as ReadonlyArray<Json>, quickBooksCloudEvent)
    if (isObject(body) && Array.isArray(body.eventNotifications)) {
      return yield* quickBooksLegacy(body.eventNotifications as ReadonlyArray<Json>)
    }
    return yield* malformed("quickbooks", "body must be a CloudEvents array or an object with eventNotifications")
  })

/** Key-sorted JSON, so equal values hash equally whatever order the fields arrived in. */
const canonicalJson = (value: Json): string => {
  if (Array.isArray(value)) return `[${(value as ReadonlyArray<Json>).map(canonicalJson).join(",")}]`
  if (isObject(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(",")}}`
  }
  return JSON.stringify(value)
}

const sha256Hex = (text: string) =>
  Effect.gen(function* () {
    const crypto = yield* WebCrypto.WebCrypto
    const digest = yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))
    return Hex.encode(new Uint8Array(digest))
  })

/**
 * Mailchimp posts a form with no event id: the key is the SHA-256 hex (WebCrypto) of the canonical JSON of
 * `{type, fired_at, data}`. `fired_at` has no zone and is read as UTC.
 */
const parseMailchimp = (raw: Uint8Array, contentType: string | undefined) =>
  Effect.gen(function* () {
    const media = mediaType(contentType)
    if (media !== undefined && media !== "application/x-www-form-urlencoded") {
      return yield* malformed("mailchimp", `content type ${media} is not a form`)
    }
    const parsed = parseFormBody(yield* decodeText("mailchimp", raw))
    if (Result.isFailure(parsed)) return yield* malformed("mailchimp", parsed.failure)
    const form: FormMap = parsed.success
    const type = yield* requiredString("mailchimp", "form", form, "type")
    const firedAt = yield* requiredString("mailchimp", "form", form, "fired_at")
    const data = yield* jsonObject("mailchimp", "form.data", form.data)
    return [
      {
        provider: "mailchimp" as const,
        eventId: yield* sha256Hex(canonicalJson({ type, fired_at: firedAt, data })),
        type,
        accountId: yield* optionalString("mailchimp", "form.data", data, "list_id"),
        occurredAt: parseTime(firedAt),
        payload: form
      }
    ]
  })

const parsers: Record<
  Provider,
  (raw: Uint8Array, contentType: string | undefined) => Effect.Effect<ReadonlyArray<WebhookEvent>, MalformedWebhook>
> = {
  stripe: parseStripe,
  square: parseSquare,
  quickbooks: parseQuickBooks,
  mailchimp: parseMailchimp
}

/**
 * The payload of a stored event from its bytes (see `InboxEntry.body`): JSON, or Mailchimp's form as the same
 * nested map `parseWebhook` gives; bytes that are neither come back as their text, never as a failure.
 */
export const payloadOfBody = (provider: Provider, body: Uint8Array): Json => {
  const text = new TextDecoder().decode(body)
  try {
    return JSON.parse(text) as Json
  } catch {
    if (provider !== "mailchimp") return text
    const form = parseFormBody(text)
    return Result.isSuccess(form) ? (form.success as Json) : text
  }
}

/** Longest event id, type or account id kept: provider ids are far shorter. */
export const maxKeyLength = 255

// Control characters (NUL above all) and lone surrogates are no key a provider sends, and no text PostgreSQL stores.
const unprintable = (value: string) => {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return !value.isWellFormed()
}

const keyProblem = (value: string | null): string | null => {
  if (value === null) return null
  if (value.length > maxKeyLength) return `is longer than ${maxKeyLength} characters`
  if (unprintable(value)) return "holds a control character or a lone surrogate"
  return null
}

/** The keys an event is stored, routed and de-duplicated by must be short, printable text. */
const checkKeys = (provider: Provider, events: ReadonlyArray<WebhookEvent>) => {
  for (const [index, event] of events.entries()) {
    for (const field of ["eventId", "type", "accountId"] as const) {
      const problem = keyProblem(event[field])
      if (problem !== null) return malformed(provider, `event ${index}: ${field} ${problem}`)
    }
  }
  return Effect.succeed(events)
}

/** One body can carry several events (QuickBooks); an empty list is a valid, acknowledgeable delivery. */
export const parseWebhook = (
  provider: Provider,
  raw: Uint8Array,
  contentType?: string
): Effect.Effect<ReadonlyArray<WebhookEvent>, MalformedWebhook> =>
  Effect.flatMap(parsers[provider](raw, contentType), (events) => checkKeys(provider, events))
