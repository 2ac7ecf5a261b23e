import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { verifySquareSignature } from "../../../adapters/webhook/SquareSignature.ts"
import { verifyWebhook } from "../../../adapters/webhook/WebhookVerifier.ts"
import {
  assertAccepted,
  assertRejected,
  fixtureBytes,
  fixtureNames,
  secret,
  tampered,
  tamperedSignature
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

      it.effect("is accepted with a correct signature", () => assertAccepted(verify(raw, signature)))
      it.effect("is refused with a tampered body", () => assertRejected(verify(tampered(raw), signature)))
      it.effect("is refused with a tampered signature", () => assertRejected(verify(raw, tamperedSignature(signature))))
      it.effect("is refused under a wrong key", () =>
        assertRejected(verify(raw, signature, [secret("wrong-key")]), "wrong-key", signature)
      )
      it.effect("is refused when no key is configured", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, signature, []))
          yield* assertRejected(verify(raw, signature, [secret("")]))
        })
      )
      it.effect("is refused under another notification URL or none", () =>
        Effect.gen(function* () {
          yield* assertRejected(verifyAt(`${officialUrl}/`, raw, signature))
          yield* assertRejected(verifyAt(officialUrl.replace("https", "http"), raw, signature))
          yield* assertRejected(verifyAt(undefined, raw, signature))
          yield* assertRejected(verifyAt("", raw, signature))
        })
      )
      it.effect("is refused without the header", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, undefined))
          yield* assertRejected(verify(raw, ""))
        })
      )
    })
  }

  it.effect("accepts a rotated key alongside the current one", () => {
    const raw = fixtureBytes("square/payment.created.json")
    return assertAccepted(verify(raw, sign(raw, "new-key"), [secret(officialKey), secret("new-key")]))
  })

  it.effect("fails on flipping any byte of a signed body (property)", () =>
    Effect.gen(function* () {
      const run = Effect.runPromiseWith(yield* Effect.context<never>())
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.uint8Array({ minLength: 1, maxLength: 512 }),
            fc.nat(),
            fc.integer({ min: 1, max: 255 }),
            async (body, index, mask) => {
              const signature = sign(body)
              assert.strictEqual((await run(Effect.result(verify(body, signature))))._tag, "Success")
              assert.strictEqual(
                (await run(Effect.result(verify(tampered(body, index, mask), signature))))._tag,
                "Failure"
              )
            }
          ),
          { numRuns: 100 }
        )
      )
    })
  )
})
