import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { startFakeKms } from "../sandbox/FakeKms.ts"

const sandbox = Effect.acquireRelease(
  Effect.promise(() => startFakeKms({ keys: ["k1"], createKeysOnDemand: false })),
  (kms) => Effect.promise(() => kms.close())
)

const clientFor = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new KMSClient({
          region: "us-west-2",
          endpoint: url,
          maxAttempts: 1,
          credentials: { accessKeyId: "AKIDSANDBOX", secretAccessKey: "sandbox-secret" }
        })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

const post = (url: string, target: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/`, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `TrentService.${target}`, ...headers },
      body: JSON.stringify(body)
    })
    return { status: response.status, type: response.headers.get("content-type"), body: await response.json() }
  })

describe("sandbox KMS", () => {
  it.effect("binds ciphertext to its encryption context, as KMS does", () =>
    Effect.gen(function* () {
      const kms = yield* sandbox
      const client = yield* clientFor(kms.url)
      const plaintext = new TextEncoder().encode("hello")
      const sealed = yield* Effect.promise(() =>
        client.send(new EncryptCommand({ KeyId: "k1", Plaintext: plaintext, EncryptionContext: { tenant: "t1" } }))
      )
      assert.strictEqual(sealed.KeyId, kms.keyArn("k1", "us-west-2"))
      const opened = yield* Effect.promise(() =>
        client.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { tenant: "t1" } }))
      )
      assert.strictEqual(new TextDecoder().decode(opened.Plaintext), "hello")
      const refused = yield* Effect.flip(
        Effect.tryPromise(() =>
          client.send(
            new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { tenant: "t2" } })
          )
        )
      )
      assert.strictEqual((refused.cause as Error).name, "InvalidCiphertextException")
    })
  )

  it.effect("answers errors in the AWS JSON 1.1 shape", () =>
    Effect.gen(function* () {
      const kms = yield* sandbox
      const auth = {
        Authorization: "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-west-2/kms/aws4_request, Signature=x"
      }
      const missing = yield* post(kms.url, "GenerateDataKey", { KeyId: "nope", KeySpec: "AES_256" }, auth)
      assert.strictEqual(missing.status, 400)
      assert.strictEqual(missing.type, "application/x-amz-json-1.1")
      assert.deepStrictEqual(missing.body, {
        __type: "NotFoundException",
        message: `Key '${kms.keyArn("nope", "us-west-2")}' does not exist`
      })
      const unsigned = yield* post(kms.url, "GenerateDataKey", { KeyId: "k1", KeySpec: "AES_256" })
      assert.strictEqual(unsigned.body.__type, "MissingAuthenticationTokenException")
      const unknown = yield* post(kms.url, "Frobnicate", {}, auth)
      assert.strictEqual(unknown.body.__type, "UnknownOperationException")
      const garbage = yield* post(kms.url, "Decrypt", { CiphertextBlob: "AAAA" }, auth)
      assert.deepStrictEqual(garbage.body, { __type: "InvalidCiphertextException" })
      kms.setUnavailable(true)
      const down = yield* post(kms.url, "GenerateDataKey", { KeyId: "k1", KeySpec: "AES_256" }, auth)
      assert.strictEqual(down.status, 500)
      assert.strictEqual(down.body.__type, "KMSInternalException")
    })
  )
})
