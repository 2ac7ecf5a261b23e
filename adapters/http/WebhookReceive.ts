/**
 * What answering one webhook delivery means, independent of the HTTP stack carrying it (Effect's router, or the
 * Node fast path): `receiveWebhook(ingest, provider, delivery)` → the status and JSON body to send.
 * Verified over the raw bytes before anything parses them; 401 says nothing about why; 400 names the malformed field
 * (the delivery is kept as rejected); 200 only after the events are committed; 503 when they could not be.
 */
import { Effect, Option } from "effect"
import type { IngestWebhook } from "../../application/IngestWebhook.ts"
import { traceParentOf } from "../../application/ProcessWebhookEvent.ts"
import { isEndpointPublicId } from "../../domain/Ids.ts"
import { type Provider, Provider as ProviderSchema } from "../../domain/Provider.ts"
import { parseWebhook } from "../../domain/WebhookEvent.ts"
import { verifyWebhook } from "../webhook/WebhookVerifier.ts"
import { recordWebhookReply } from "./WebhookMetrics.ts"

export const webhookPath = "/api/v1/integrations/webhooks"

const providers: ReadonlySet<string> = new Set(ProviderSchema.literals)
export const isProvider = (name: string | undefined): name is Provider => name !== undefined && providers.has(name)

export interface Delivery {
  /** The request target, for its query (`?endpoint=`, Mailchimp's `?secret=`). */
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** The body exactly as received. */
  readonly raw: Uint8Array
}

export interface WebhookReply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** JSON body; none for 401. */
  readonly body: object | undefined
}

const unauthorized: WebhookReply = { status: 401, body: undefined }
export const unavailable: WebhookReply = {
  status: 503,
  body: { _tag: "ServiceUnavailable", code: "StoreUnavailable", message: "the webhook could not be stored; retry" }
}

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

export const receiveWebhook = (
  ingest: IngestWebhook["Service"],
  provider: Provider,
  delivery: Delivery
): Effect.Effect<WebhookReply> =>
  Effect.gen(function* () {
    const { raw, headers } = delivery
    const query = queryOf(delivery.url)
    // A malformed `?endpoint=` names no connection: refused like any delivery whose secret cannot be found.
    if (query.endpoint !== undefined && !isEndpointPublicId(query.endpoint)) return unauthorized
    const endpoint = query.endpoint
    const { secrets, notificationUrl } = yield* ingest.secretsFor(provider, endpoint)
    const verified = yield* Effect.result(verifyWebhook(provider, { raw, headers, query, secrets, notificationUrl }))
    if (verified._tag === "Failure") return unauthorized
    const contentType = headers["content-type"]
    const parsed = yield* Effect.result(
      parseWebhook(provider, raw, typeof contentType === "string" ? contentType : undefined)
    )
    if (parsed._tag === "Failure") {
      yield* ingest.reject(provider, parsed.failure.message, raw)
      return {
        status: 400,
        body: { _tag: "BadRequest", code: "MalformedWebhook", message: parsed.failure.message }
      } satisfies WebhookReply
    }
    const retryAfter = yield* ingest.admit(provider, endpoint ?? parsed.success[0]?.accountId ?? "")
    if (retryAfter !== null) {
      return {
        status: 429,
        headers: { "retry-after": String(retryAfter) },
        body: { _tag: "TooManyRequests", code: "RateLimited", message: "too many deliveries for this account; retry" }
      } satisfies WebhookReply
    }
    const span = yield* Effect.option(Effect.currentSpan)
    const accepted = yield* ingest.accept(
      provider,
      parsed.success,
      { raw, endpoint },
      Option.match(span, { onNone: () => null, onSome: traceParentOf })
    )
    return { status: 200, body: { received: true, ...accepted } } satisfies WebhookReply
  }).pipe(
    // Nothing was acknowledged and the provider will retry, which would hide an outage: say what failed.
    Effect.catch((error) =>
      Effect.logError("webhook not stored; answered 503").pipe(
        Effect.annotateLogs({ "webhook.provider": provider, "error.cause": `${error._tag}: ${error.message}` }),
        Effect.as(unavailable)
      )
    ),
    Effect.tap((reply) => recordWebhookReply(provider, reply))
  )
