import { createHmac } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { verifyQuickBooksSignature } from "../../../adapters/webhook/QuickBooksSignature.ts"
import { verifyWebhook } from "../../../adapters/webhook/WebhookVerifier.ts"
import {
  assertAccepted,
  fixtureBytes,
  fixtureNames,
  flippedBytesRejected,
  secret,
  signedFixtureTests
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

      signedFixtureTests({
        raw,
        signature: sign(raw),
        verify,
        secretName: "verifier token",
        wrongSecret: "wrong-token"
      })
    })
  }

  it.effect("fails on flipping any byte of a signed body (property)", () => flippedBytesRejected(sign, verify))
})
