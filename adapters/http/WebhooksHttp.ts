import { Effect, Layer, Option } from "effect"
import { HttpIncomingMessage, HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { IngestWebhook } from "../../application/IngestWebhook.ts"
import { WebhookEvents } from "../../application/WebhookEvents.ts"
import { Api } from "./Api.ts"
import { ServiceUnavailable, toHttpError } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import {
  isBodyTooLarge,
  payloadTooLarge,
  payloadTooLargeResponse,
  refuseDeclaredOversize,
  webhookMaxBody
} from "./BodyLimit.ts"
import { isProvider, receiveWebhook, unavailable, type WebhookReply, webhookPath } from "./WebhookReceive.ts"

export { webhookPath }

const notFound = HttpServerResponse.empty({ status: 404 })

const toResponse = (reply: WebhookReply) =>
  reply.body === undefined
    ? HttpServerResponse.empty({ status: reply.status })
    : HttpServerResponse.jsonUnsafe(reply.body, { status: reply.status, headers: reply.headers ?? {} })

/**
 * The four receiving endpoints, as raw routes (no HttpApi payload decoding): the signature is checked over the body
 * bytes exactly as received, before anything parses them (see `receiveWebhook`). On Node, `WebhookFastPath`
 * answers these requests ahead of the router; these routes serve Deno and the in-process test server.
 */
export const WebhookReceiveRoutes = HttpRouter.use((router) =>
  Effect.gen(function* () {
    const ingest = yield* IngestWebhook

    const receive = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const { provider } = yield* HttpRouter.params
        if (!isProvider(provider)) return notFound
        yield* refuseDeclaredOversize
        const raw = new Uint8Array(yield* request.arrayBuffer)
        return toResponse(yield* receiveWebhook(ingest, provider, { url: request.url, headers: request.headers, raw }))
      }).pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, webhookMaxBody),
        Effect.catch((error) =>
          Effect.succeed(
            error._tag === "PayloadTooLarge" || isBodyTooLarge(error)
              ? payloadTooLargeResponse(payloadTooLarge(webhookMaxBody, "webhook bodies"))
              : toResponse(unavailable)
          )
        )
      )

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
