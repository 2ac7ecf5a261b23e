import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { verifyQuickBooksSignature } from "../../../adapters/webhook/QuickBooksSignature.ts"
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

// Intuit's official vector (QuickBooks-V3-Java-SDK WebhooksServiceTest).
const verifierToken = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
const officialSignature = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="

const sign = (raw: Uint8Array, token = verifierToken) => createHmac("sha256", token).update(raw).digest("base64")

const verify = (raw: Uint8Array, header: string | undefined, secrets = [secret(verifierToken)]) =>
  verifyQuickBooksSignature({ raw, header, secrets })

describe("QuickBooks webhook signature", () => {
  it.effect("accepts the official legacy vector through verifyWebhook (header name case-insensitive)", () =>
    assertAccepted(
      verifyWebhook("quickbooks", {
        raw: fixtureBytes("quickbooks/legacy.customer.create.json"),
        headers: { "Intuit-Signature": officialSignature },
        query: {},
        secrets: [secret(verifierToken)]
      })
    )
  )

  it("node:crypto reproduces the official vector, so it can sign the CloudEvents fixture", () => {
    assert.strictEqual(sign(fixtureBytes("quickbooks/legacy.customer.create.json")), officialSignature)
  })

  for (const name of fixtureNames("quickbooks")) {
    describe(name, () => {
      const raw = fixtureBytes(name)
      const signature = sign(raw)

      it.effect("is accepted with a correct signature", () => assertAccepted(verify(raw, signature)))
      it.effect("is refused with a tampered body", () => assertRejected(verify(tampered(raw), signature)))
      it.effect("is refused with a tampered signature", () => assertRejected(verify(raw, tamperedSignature(signature))))
      it.effect("is refused under a wrong verifier token", () =>
        assertRejected(verify(raw, signature, [secret("wrong-token")]), "wrong-token", signature)
      )
      it.effect("is refused when no verifier token is configured", () =>
        Effect.gen(function* () {
          yield* assertRejected(verify(raw, signature, []))
          yield* assertRejected(verify(raw, signature, [secret("")]))
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
