import { Effect, Layer, Option } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { IngestWebhook } from "../../application/IngestWebhook.ts"
import { traceParentOf } from "../../application/ProcessWebhookEvent.ts"
import { WebhookEvents } from "../../application/WebhookEvents.ts"
import { type Provider, Provider as ProviderSchema } from "../../domain/Provider.ts"
import { parseWebhook } from "../../domain/WebhookEvent.ts"
import { verifyWebhook } from "../webhook/WebhookVerifier.ts"
import { Api } from "./Api.ts"
import { ServiceUnavailable, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

export const webhookPath = "/api/v1/integrations/webhooks"

const providers: ReadonlySet<string> = new Set(ProviderSchema.literals)
const utf8 = new TextDecoder()

const unauthorized = HttpServerResponse.empty({ status: 401 })
const notFound = HttpServerResponse.empty({ status: 404 })
const unavailable = HttpServerResponse.jsonUnsafe(
  { _tag: "ServiceUnavailable", code: "StoreUnavailable", message: "the webhook could not be stored; retry" },
  { status: 503 }
)

const queryOf = (url: string): Record<string, string | Array<string>> => {
  const at = url.indexOf("?")
  const out: Record<string, string | Array<string>> = {}
  if (at < 0) return out
  for (const [key, value] of new URLSearchParams(url.slice(at + 1))) {
    const seen = out[key]
    out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]
  }
  return out
}

/**
 * The four receiving endpoints, as raw routes (no HttpApi payload decoding): the signature is checked over the body
 * bytes exactly as received, before anything parses them. 401 says nothing about why; 400 names the malformed field
 * (the delivery is kept as rejected); 200 only after the events are committed; 503 when they could not be.
 */
export const WebhookReceiveRoutes = HttpRouter.use((router) =>
  Effect.gen(function* () {
    const ingest = yield* IngestWebhook

    const receive = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const { provider: name } = yield* HttpRouter.params
        if (name === undefined || !providers.has(name)) return notFound
        const provider = name as Provider
        const query = queryOf(request.url)
        const endpoint = typeof query.endpoint === "string" ? query.endpoint : undefined
        const raw = new Uint8Array(yield* request.arrayBuffer)
        const { secrets, notificationUrl } = yield* ingest.secretsFor(provider, endpoint)
        const verified = yield* Effect.result(
          verifyWebhook(provider, { raw, headers: request.headers, query, secrets, notificationUrl })
        )
        if (verified._tag === "Failure") return unauthorized
        const contentType = request.headers["content-type"]
        const parsed = yield* Effect.result(parseWebhook(provider, raw, contentType))
        if (parsed._tag === "Failure") {
          yield* ingest.reject(provider, parsed.failure.message, raw)
          return HttpServerResponse.jsonUnsafe(
            { _tag: "BadRequest", code: "MalformedWebhook", message: parsed.failure.message },
            { status: 400 }
          )
        }
        const span = yield* Effect.option(Effect.currentSpan)
        const accepted = yield* ingest.accept(
          provider,
          parsed.success,
          { json: provider === "mailchimp" ? undefined : utf8.decode(raw), endpoint },
          Option.match(span, { onNone: () => null, onSome: traceParentOf })
        )
        return HttpServerResponse.jsonUnsafe({ received: true, ...accepted })
      }).pipe(Effect.catch(() => Effect.succeed(unavailable)))

    yield* router.add("POST", `${webhookPath}/:provider`, receive)
    // Mailchimp validates a webhook URL with a GET that must answer 200.
    yield* router.add("GET", `${webhookPath}/mailchimp`, HttpServerResponse.empty({ status: 200 }))
  })
)

export const WebhookEventsHttp = HttpApiBuilder.group(
  Api,
  "webhookEvents",
  Effect.fn(function* (handlers) {
    const events = yield* WebhookEvents
    return handlers
      .handle("list", ({ params, query }) =>
        CurrentPrincipal.use((p) =>
          events.list(p, params.provider, {
            status: query.status,
            type: query.type,
            limit: query.limit ?? 50,
            cursor: query.cursor
          })
        ).pipe(
          Effect.catchTags({
            InboxUnavailable: () =>
              Effect.fail(new ServiceUnavailable({ code: "StoreUnavailable", message: "the database is unavailable" }))
          }),
          Effect.mapError((e) => (e._tag === "Forbidden" ? toHttpError(e) : e))
        )
      )
      .handle("retry", ({ payload }) =>
        CurrentPrincipal.use((p) => events.retry(p, payload.provider, Option.fromNullishOr(payload.eventId))).pipe(
          Effect.map((requeued) => ({ requeued })),
          Effect.catchTags({
            InboxUnavailable: () =>
              Effect.fail(new ServiceUnavailable({ code: "StoreUnavailable", message: "the database is unavailable" }))
          }),
          Effect.mapError((e) => (e._tag === "Forbidden" ? toHttpError(e) : e))
        )
      )
  })
)

/** Both webhook surfaces, for the composition root. */
export const WebhooksHttp = { receive: WebhookReceiveRoutes, events: WebhookEventsHttp } as const
export const WebhookRoutes = Layer.mergeAll(WebhookReceiveRoutes)
