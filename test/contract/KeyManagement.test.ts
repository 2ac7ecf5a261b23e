import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { AwsKeyManagement } from "../../adapters/kms/AwsKeyManagement.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { FakeKmsServer, fakeCredentials, layerAwsOnFakeKms } from "../support/FakeKmsServer.ts"
import { keyManagementContract } from "./KeyManagementContract.ts"

const random32 = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")

keyManagementContract(
  "LocalKeyring",
  LocalKeyring.layerKeys(Redacted.make(`current:${random32()},older:${random32()}`)),
  {
    otherKeyId: "older"
  }
)

keyManagementContract(
  "AwsKeyManagement on the sandbox KMS",
  layerAwsOnFakeKms("key-a").pipe(Layer.provide(FakeKmsServer.layer())),
  { otherKeyId: "key-b" }
)

describe("AwsKeyManagement", () => {
  layer(
    layerAwsOnFakeKms("alias/integrations").pipe(
      Layer.provideMerge(FakeKmsServer.layer({ aliases: { "alias/integrations": "key-1" } }))
    )
  )("on the sandbox KMS", (it) => {
    it.effect("names keys by the ARN KMS reports, even when configured with an alias", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const kms = yield* FakeKmsServer
        assert.strictEqual(km.currentKeyId, kms.keyArn("key-1", "eu-central-1"))
        const key = yield* km.generateDataKey
        assert.strictEqual(key.keyId, km.currentKeyId)
        assert.includeMembers([...kms.calls()], ["GenerateDataKey"])
      })
    )

    it.effect("turns a failing KMS into KeyManagementUnavailable, for 5xx and dropped connections alike", () =>
      Effect.gen(function* () {
        const km = yield* KeyManagement
        const kms = yield* FakeKmsServer
        const key = yield* km.generateDataKey
        for (const mode of [true, "drop"] as const) {
          kms.setUnavailable(mode)
          const failures = yield* Effect.all([
            Effect.flip(km.generateDataKey),
            Effect.flip(km.decrypt(key.wrapped, key.keyId)),
            Effect.flip(km.reEncrypt(key.wrapped, key.keyId, "key-2")),
            Effect.flip(km.ping)
          ]).pipe(Effect.ensuring(Effect.sync(() => kms.setUnavailable(false))))
          for (const failure of failures) assert.strictEqual(failure._tag, "KeyManagementUnavailable")
        }
        yield* km.ping
      })
    )
  })

  it.effect("fails to start when the key does not exist", () =>
    Effect.gen(function* () {
      const error = yield* Layer.build(layerAwsOnFakeKms("missing")).pipe(
        Effect.provide(FakeKmsServer.layer({ createKeysOnDemand: false })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "KeyManagementUnavailable")
      assert.include(error.message, "NotFoundException")
    })
  )

  it.effect("fails to start when KMS cannot be reached", () =>
    Effect.gen(function* () {
      const error = yield* Layer.build(
        AwsKeyManagement.layer({
          keyId: "key-1",
          region: "eu-central-1",
          endpoint: "http://127.0.0.1:9",
          credentials: fakeCredentials,
          maxAttempts: 1
        })
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "KeyManagementUnavailable")
    })
  )
})
