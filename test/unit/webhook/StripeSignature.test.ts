import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import Stripe from "stripe"
import { verifyStripeSignature } from "../../../adapters/webhook/StripeSignature.ts"
import { verifyWebhook, webhookSecrets } from "../../../adapters/webhook/WebhookVerifier.ts"
import {
  assertAccepted,
  assertRejected,
  fixtureBytes,
  fixtureNames,
  fixtureText,
  flippedBytesRejected,
  secret,
  tampered,
  tamperedSignature
} from "./webhookFixtures.ts"

const stripe = new Stripe("sk_test_unused")
const endpointSecret = "whsec_test_endpoint_secret"
const now = 1_800_000_000

const header = (payload: string, secretValue = endpointSecret, timestamp = now) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret: secretValue, timestamp })

const v1Of = (stripeHeader: string) => stripeHeader.split(",v1=")[1]!

const verify = (raw: Uint8Array, stripeHeader: string | undefined, secrets = [secret(endpointSecret)]) =>
  verifyStripeSignature({ raw, header: stripeHeader, secrets })

const atNow = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.andThen(TestClock.setTime(now * 1000), effect)

describe("Stripe webhook signature", () => {
  for (const name of fixtureNames("stripe")) {
    describe(name, () => {
      const raw = fixtureBytes(name)
      const signed = header(fixtureText(name))

      it.effect("is accepted with the header from stripe.webhooks.generateTestHeaderString", () =>
        atNow(
          assertAccepted(
            verifyWebhook("stripe", {
              raw,
              headers: { "stripe-signature": signed },
              query: {},
              secrets: [secret(endpointSecret)]
            })
          )
        )
      )
      it.effect("is refused with a tampered body", () => atNow(assertRejected(verify(tampered(raw), signed))))
      it.effect("is refused with a tampered signature", () =>
        atNow(assertRejected(verify(raw, `t=${now},v1=${tamperedSignature(v1Of(signed))}`)))
      )
      it.effect("is refused under a wrong secret", () =>
        atNow(assertRejected(verify(raw, signed, [secret("whsec_some_other_secret")]), "whsec_some_other_secret"))
      )
      it.effect("is refused when no secret is configured", () =>
        atNow(
          Effect.gen(function* () {
            yield* assertRejected(verify(raw, signed, []))
            yield* assertRejected(verify(raw, signed, [secret("")]))
          })
        )
      )
    })
  }

  const raw = fixtureBytes("stripe/customer.created.json")
  const payload = fixtureText("stripe/customer.created.json")

  it.effect("refuses a missing or unparseable header", () =>
    atNow(
      Effect.gen(function* () {
        yield* assertRejected(verify(raw, undefined))
        yield* assertRejected(verify(raw, ""))
        yield* assertRejected(verify(raw, `t=${now}`))
        yield* assertRejected(verify(raw, `v1=${v1Of(header(payload))}`))
        yield* assertRejected(verify(raw, `t=abc,v1=${v1Of(header(payload))}`))
        yield* assertRejected(verify(raw, `t=${now},v0=${v1Of(header(payload))}`))
      })
    )
  )

  it.effect("refuses a timestamp 301 s old and accepts one 300 s old", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime((now + 301) * 1000)
      yield* assertRejected(verify(raw, header(payload)))
      yield* TestClock.setTime((now + 300) * 1000)
      yield* assertAccepted(verify(raw, header(payload)))
    })
  )

  it.effect("refuses a timestamp 301 s in the future and accepts one 300 s ahead", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime((now - 301) * 1000)
      yield* assertRejected(verify(raw, header(payload)))
      yield* TestClock.setTime((now - 300) * 1000)
      yield* assertAccepted(verify(raw, header(payload)))
    })
  )

  it.effect("accepts any matching v1 among several", () =>
    atNow(
      Effect.gen(function* () {
        const good = v1Of(header(payload))
        const other = v1Of(header(payload, "whsec_unrelated"))
        yield* assertAccepted(verify(raw, `t=${now},v1=${other},v1=${good}`))
        yield* assertAccepted(verify(raw, `t=${now},v0=${other},v1=${good},v1=${other}`))
        yield* assertRejected(verify(raw, `t=${now},v1=${other},v1=${tamperedSignature(good)}`))
      })
    )
  )

  it.effect("accepts either secret while rolling, from a comma-separated setting too", () =>
    atNow(
      Effect.gen(function* () {
        const rolling = [secret("whsec_old"), secret("whsec_new")]
        yield* assertAccepted(verify(raw, header(payload, "whsec_old"), rolling))
        yield* assertAccepted(verify(raw, header(payload, "whsec_new"), rolling))
        yield* assertRejected(verify(raw, header(payload, "whsec_retired"), rolling))
        const configured = webhookSecrets(secret(" whsec_new , whsec_old ,"))
        assert.strictEqual(configured.length, 2)
        yield* assertAccepted(verify(raw, header(payload, "whsec_old"), configured))
        yield* assertRejected(verify(raw, header(payload, "whsec_old"), webhookSecrets(secret(" , "))))
        yield* assertRejected(verify(raw, header(payload, "whsec_old"), webhookSecrets(undefined)))
      })
    )
  )

  it.effect("fails on flipping any byte of a signed body (property)", () =>
    atNow(
      flippedBytesRejected(
        (body) => `t=${now},v1=${createHmac("sha256", endpointSecret).update(`${now}.`).update(body).digest("hex")}`,
        verify
      )
    )
  )
})
