import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { BadRequest, PayloadTooLarge, ServiceUnavailable } from "./ApiErrors.ts"

export const WebhookAccepted = Schema.Struct({
  received: Schema.Literal(true),
  /** Events written to the inbox by this delivery. */
  stored: Schema.Number,
  /** Events the inbox already had (acknowledged, nothing changed). */
  duplicates: Schema.Number,
  /** Verified events for an account no connection has: quarantined and acknowledged. */
  unroutable: Schema.Number
}).annotate({ identifier: "WebhookAccepted" })

/** The body exactly as the provider sent it: the signature covers these bytes, so nothing decodes them first. */
const rawBody = (contentType: string) => Schema.Uint8Array.pipe(HttpApiSchema.asUint8Array({ contentType }))

const answers = {
  success: WebhookAccepted,
  error: [
    BadRequest,
    // A wrong or missing signature: no body, so a prober learns nothing.
    HttpApiSchema.Empty(401),
    PayloadTooLarge,
    ServiceUnavailable
  ]
} as const

const receive = (
  provider: string,
  options: {
    readonly contentType: string
    readonly headers?: Schema.Struct.Fields
    readonly query?: Schema.Struct.Fields
    readonly description: string
  }
) =>
  HttpApiEndpoint.post(provider, `/webhooks/${provider}`, {
    headers: options.headers ?? {},
    query: options.query ?? {},
    payload: rawBody(options.contentType),
    ...answers
  }).annotateMerge(
    OpenApi.annotations({
      summary: `Receive a ${provider} webhook delivery`,
      description: `${options.description} Verified over the raw bytes in constant time, failing closed; 200 only after the events are committed to the inbox (duplicates too), 400 for a malformed body with a good signature (kept as rejected), 503 when they could not be stored (the provider retries).`
    })
  )

const described = (description: string) => Schema.String.annotate({ description })

/**
 * The receiving endpoints, declared for the OpenAPI document only. They are served as raw routes (WebhooksHttp.ts)
 * and, on Node, by `WebhookFastPath` ahead of the router, never through HttpApi's payload decoding.
 */
export class WebhookReceiveGroup extends HttpApiGroup.make("webhookReceive")
  .add(
    receive("stripe", {
      contentType: "application/json",
      headers: { "stripe-signature": described("t=<unix seconds>,v1=<hex HMAC-SHA256 of `t.body`>[,v1=…]") },
      query: {
        endpoint: Schema.optionalKey(described("the connection's endpoint id, in the URL registered at Stripe"))
      },
      description:
        "Stripe `Stripe-Signature`: any `v1` of any configured secret, or of the connection's own endpoint secret when `?endpoint=` is given; 300 s tolerance both ways."
    }),
    receive("square", {
      contentType: "application/json",
      headers: { "x-square-hmacsha256-signature": described("base64 HMAC-SHA256 of SQUARE_WEBHOOK_URL + body") },
      description: "Square `x-square-hmacsha256-signature` over the subscription URL followed by the body."
    }),
    receive("quickbooks", {
      contentType: "application/json",
      headers: { "intuit-signature": described("base64 HMAC-SHA256 of the body, keyed by the verifier token") },
      description: "Intuit `intuit-signature` (legacy `eventNotifications` or the CloudEvents array)."
    }),
    receive("mailchimp", {
      contentType: "application/x-www-form-urlencoded",
      query: {
        endpoint: described("the connection's endpoint id, in the URL registered on the venue's audience"),
        secret: described("the secret in that URL, sealed on the connection")
      },
      description:
        "Mailchimp signs nothing: the URL registered on the audience (PUT /mailchimp/settings) carries the connection's endpoint id and a secret (`?endpoint=…&secret=…`)."
    }),
    HttpApiEndpoint.get("mailchimpValidation", "/webhooks/mailchimp", {
      success: HttpApiSchema.Empty(200)
    }).annotateMerge(
      OpenApi.annotations({
        summary: "Mailchimp's webhook URL check",
        description: "Mailchimp validates a webhook URL with a GET before it registers it; it must answer 200."
      })
    )
  )
  .prefix("/api/v1/integrations")
  .annotateMerge(OpenApi.annotations({ title: "webhooks", description: "Provider webhook deliveries (no JWT)." })) {}
