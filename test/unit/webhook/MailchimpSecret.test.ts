import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { verifyWebhook } from "../../../adapters/webhook/WebhookVerifier.ts"
import { assertAccepted, assertRejected, fixtureBytes, fixtureNames, secret } from "./webhookFixtures.ts"

const urlSecret = "s3cr3t-in-the-url"

const verify = (
  raw: Uint8Array,
  query: Record<string, string | ReadonlyArray<string>>,
  secrets = [secret(urlSecret)]
) =>
  verifyWebhook("mailchimp", {
    raw,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    query,
    secrets
  })

describe("Mailchimp webhook URL secret", () => {
  for (const name of fixtureNames("mailchimp/raw", ".form")) {
    describe(name, () => {
      const raw = fixtureBytes(name)

      it.effect("is accepted with the configured secret in the query", () =>
        assertAccepted(verify(raw, { secret: urlSecret }))
      )
      it.effect("is accepted with the connection's own secret among several", () =>
        assertAccepted(verify(raw, { secret: "connection-own" }, [secret(urlSecret), secret("connection-own")]))
      )
      it.effect("is refused with a tampered or wrong secret", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, { secret: `${urlSecret}x` }), urlSecret)
          yield* assertRejected(verify(raw, { secret: urlSecret.slice(0, -1) }), urlSecret)
          yield* assertRejected(verify(raw, { secret: "S3CR3T-IN-THE-URL" }), urlSecret)
          yield* assertRejected(verify(raw, { secret: urlSecret }, [secret("another")]), urlSecret, "another")
        })
      )
      it.effect("is refused when no secret is configured, even if the request brings an empty one", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, { secret: urlSecret }, []))
          yield* assertRejected(verify(raw, { secret: "" }, [secret("")]))
        })
      )
      it.effect("is refused without the query parameter, or with it repeated", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, {}))
          yield* assertRejected(verify(raw, { secret: "" }))
          yield* assertRejected(verify(raw, { token: urlSecret }))
          yield* assertRejected(verify(raw, { secret: [urlSecret, "other"] }))
        })
      )
      it.effect("accepts the parameter given once as an array", () =>
        assertAccepted(verify(raw, { secret: [urlSecret] }))
      )
    })
  }
})
