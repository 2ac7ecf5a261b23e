import { Config, Duration, Effect, Layer, Option, Redacted } from "effect"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import {
  type AudienceWebhookRequest,
  type MarketingAccess,
  MarketingAudiences
} from "../../ports/MarketingAudiences.ts"
import { marketingClient, marketingFailure } from "./MailchimpMarketingClient.ts"

/** Every event type a list webhook may carry (Mailchimp's `events` object); those not asked for are sent `false`. */
const eventTypes = ["subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"]

const unavailable = (message: string, retryable: boolean) =>
  new ProviderUnavailable({ provider: "mailchimp", message, retryable })

/** The problem document's title ("Resource Not Found", "Invalid Resource"): Mailchimp's fixed words, never its detail. */
const titleOf = (cause: unknown) => {
  const body = (cause as { response?: { body?: { title?: unknown } } } | null)?.response?.body
  const title = body?.title
  return typeof title === "string" && /^[A-Za-z ]{1,64}$/.test(title) ? ` ${title}` : ""
}

const statusOf = (cause: unknown) => {
  const { status } = marketingFailure(cause)
  return typeof status === "number" ? status : null
}

/** 401: the token is dead (the venue removed the app); 5xx, 429, timeouts, network: retry later; the rest: refused. */
const classify =
  (call: string) =>
  (cause: unknown): OAuthGrantRejected | ProviderUnavailable => {
    const status = statusOf(cause)
    if (status === null)
      return unavailable(
        marketingFailure(cause).timeout === undefined ? "Mailchimp API unreachable" : `Mailchimp ${call} timed out`,
        true
      )
    if (status === 401)
      return new OAuthGrantRejected({
        provider: "mailchimp",
        code: "invalid_token",
        message: "Mailchimp refused the access token (401 API Key Invalid)"
      })
    return unavailable(
      `Mailchimp ${call} answered ${status}${titleOf(cause)}`,
      status === 408 || status === 429 || status >= 500
    )
  }

const absent = Symbol("absent")
const absentOn404 = (cause: unknown) => {
  if (statusOf(cause) === 404) return absent
  throw cause
}

const make = (timeout: Duration.Input) => {
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  const client = (access: MarketingAccess) => marketingClient(access, timeoutMs)

  const find = Effect.fn("MailchimpAudiences.find")(function* (access: MarketingAccess, listId: string) {
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": listId })
    const list = yield* Effect.tryPromise({
      // 404: the account has no such audience (another account's is just as unknown to this token).
      try: () =>
        client(access)
          .lists.getList(listId, { fields: ["id", "name"] })
          .catch(absentOn404),
      catch: classify("GET /lists/{id}")
    })
    if (list === absent) return Option.none()
    const { id, name } = list as { id?: unknown; name?: unknown }
    if (id !== listId || typeof name !== "string")
      return yield* unavailable("Mailchimp answered GET /lists/{id} with another audience", false)
    return Option.some({ id, name })
  })

  const registerWebhook = Effect.fn("MailchimpAudiences.registerWebhook")(function* (
    access: MarketingAccess,
    listId: string,
    webhook: AudienceWebhookRequest
  ) {
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": listId })
    const created = yield* Effect.tryPromise({
      try: () =>
        client(access).lists.createListWebhook(listId, {
          url: Redacted.value(webhook.url),
          events: Object.fromEntries(eventTypes.map((type) => [type, webhook.events.includes(type)])),
          // Changes made through the API (our own sync) must not come back as webhooks.
          sources: { user: true, admin: true, api: false }
        }),
      catch: classify("POST /lists/{id}/webhooks")
    })
    const id = (created as { id?: unknown } | null)?.id
    if (typeof id !== "string" || id === "")
      return yield* unavailable("Mailchimp created a webhook without an id", false)
    return id
  })

  const removeWebhook = Effect.fn("MailchimpAudiences.removeWebhook")(function* (
    access: MarketingAccess,
    listId: string,
    webhookId: string
  ) {
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": listId })
    yield* Effect.tryPromise({
      // 404: already gone (or its audience with it), nothing is left to remove.
      try: () => client(access).lists.deleteListWebhook(listId, webhookId).catch(absentOn404),
      catch: classify("DELETE /lists/{id}/webhooks/{id}")
    })
  })

  return MarketingAudiences.of({ find, registerWebhook, removeWebhook })
}

export const MailchimpAudiences = {
  make,
  /** Reads MAILCHIMP_TIMEOUT (default 10 seconds, per call); each account's API host comes with its access. */
  layer: Layer.effect(
    MarketingAudiences,
    Effect.gen(function* () {
      return make(yield* Config.Duration("MAILCHIMP_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10))))
    })
  )
}
