import { Clock, Config, Duration, Effect, Layer, Option } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import type { ClaimedNotification } from "../../ports/operations/NotificationOutbox.ts"
import { NotificationRefused, NotificationSender } from "../../ports/operations/NotificationSender.ts"
import { secretBytes, sign } from "./StandardWebhookSignature.ts"

const NotifyConfig = Config.all({
  url: Config.option(Config.URL("NOTIFY_WEBHOOK_URL")),
  secret: Config.option(Config.Redacted("NOTIFY_WEBHOOK_SECRET")),
  timeout: Config.Duration("NOTIFY_WEBHOOK_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))
})

/**
 * POSTs each notification to `NOTIFY_WEBHOOK_URL`, signed per the Standard Webhooks spec (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`) with `NOTIFY_WEBHOOK_SECRET` (`whsec_<base64>`, required with the URL).
 * Any 2xx is delivered; anything else, or no answer in `NOTIFY_WEBHOOK_TIMEOUT`, is refused and retried.
 * Without a URL, `configured` is false and nothing is sent.
 */
export const StandardWebhookSender = {
  layer: Layer.effect(
    NotificationSender,
    Effect.gen(function* () {
      const config = yield* NotifyConfig
      const client = yield* HttpClient.HttpClient
      if (Option.isNone(config.url)) return NotificationSender.of({ configured: false, send: () => Effect.void })
      const url = config.url.value
      const key = Option.getOrNull(Option.map(config.secret, secretBytes))
      if (key === null)
        return yield* Effect.die(
          new Error("NOTIFY_WEBHOOK_SECRET must be set with NOTIFY_WEBHOOK_URL, as whsec_ and at least 16 base64 bytes")
        )

      const send = Effect.fn("StandardWebhookSender.send")(function* (notification: ClaimedNotification) {
        yield* Effect.annotateCurrentSpan({
          "notification.id": notification.id,
          "notification.type": notification.type
        })
        const timestamp = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const signature = yield* sign(key, notification.id, timestamp, notification.body)
        const request = HttpClientRequest.post(url).pipe(
          HttpClientRequest.setHeaders({
            "webhook-id": notification.id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": signature
          }),
          HttpClientRequest.bodyText(notification.body, "application/json")
        )
        const response = yield* client.execute(request).pipe(
          Effect.timeoutOrElse({
            duration: config.timeout,
            orElse: () => Effect.fail(new NotificationRefused({ message: "the receiver did not answer in time" }))
          }),
          Effect.catchTag("HttpClientError", (e) =>
            Effect.fail(new NotificationRefused({ message: `the receiver could not be reached (${e.reason._tag})` }))
          )
        )
        // Read to the end, so that the connection goes back to the pool.
        yield* response.text.pipe(Effect.ignore)
        if (response.status < 200 || response.status > 299)
          return yield* new NotificationRefused({ message: `the receiver answered ${response.status}` })
      })

      return NotificationSender.of({ configured: true, send })
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))
}
