import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { verifySquareSignature } from "../../../adapters/webhook/SquareSignature.ts"
import { verifyWebhook } from "../../../adapters/webhook/WebhookVerifier.ts"
import {
  assertAccepted,
  assertRejected,
  fixtureBytes,
  fixtureNames,
  flippedBytesRejected,
  secret,
  signedFixtureTests
} from "./webhookFixtures.ts"

// Square's official vector (square-python-sdk test_webhooks_helper.py, re-verified with square@46).
const officialKey = "Ibxx_5AKakO-3qeNVR61Dw"
const officialUrl = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
const officialSignature = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="

const sign = (raw: Uint8Array, key = officialKey, url = officialUrl) =>
  createHmac("sha256", key).update(url, "utf8").update(raw).digest("base64")

const verifyAt = (
  url: string | undefined,
  raw: Uint8Array,
  header: string | undefined,
  secrets = [secret(officialKey)]
) => verifySquareSignature({ raw, header, secrets, notificationUrl: url })

const verify = (raw: Uint8Array, header: string | undefined, secrets = [secret(officialKey)]) =>
  verifyAt(officialUrl, raw, header, secrets)

describe("Square webhook signature", () => {
  it.effect("accepts the official test vector through verifyWebhook", () =>
    assertAccepted(
      verifyWebhook("square", {
        raw: fixtureBytes("square/webhooks.test_notification.json"),
        headers: { "x-square-hmacsha256-signature": officialSignature },
        query: {},
        secrets: [secret(officialKey)],
        notificationUrl: officialUrl
      })
    )
  )

  it("node:crypto reproduces the official vector, so it can sign the other fixtures", () => {
    assert.strictEqual(sign(fixtureBytes("square/webhooks.test_notification.json")), officialSignature)
  })

  for (const name of fixtureNames("square")) {
    describe(name, () => {
      const raw = fixtureBytes(name)
      const signature = sign(raw)

      signedFixtureTests({ raw, signature, verify, secretName: "key", wrongSecret: "wrong-key" })
      it.effect("is refused under another notification URL or none", () =>
        Effect.gen(function* () {
          yield* assertRejected(verifyAt(`${officialUrl}/`, raw, signature))
          yield* assertRejected(verifyAt(officialUrl.replace("https", "http"), raw, signature))
          yield* assertRejected(verifyAt(undefined, raw, signature))
          yield* assertRejected(verifyAt("", raw, signature))
        })
      )
    })
  }

  it.effect("accepts a rotated key alongside the current one", () => {
    const raw = fixtureBytes("square/payment.created.json")
    return assertAccepted(verify(raw, sign(raw, "new-key"), [secret(officialKey), secret("new-key")]))
  })

  it.effect("fails on flipping any byte of a signed body (property)", () => flippedBytesRejected(sign, verify))
})
