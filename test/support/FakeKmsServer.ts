import { Context, Effect, Layer, Redacted } from "effect"
import { AwsKeyManagement } from "../../adapters/kms/AwsKeyManagement.ts"
import { type FakeKms, type FakeKmsOptions, startFakeKms } from "../sandbox/FakeKms.ts"

/** The sandbox KMS for one test file, closed afterwards. */
export class FakeKmsServer extends Context.Service<FakeKmsServer, FakeKms>()("integration-service/test/FakeKmsServer") {
  static readonly layer = (options?: FakeKmsOptions) =>
    Layer.effect(
      FakeKmsServer,
      Effect.acquireRelease(
        Effect.promise(() => startFakeKms(options)),
        (kms) => Effect.promise(() => kms.close())
      )
    )
}

export const fakeCredentials = { accessKeyId: "AKIDSANDBOX", secretAccessKey: Redacted.make("sandbox-secret") }

/** AwsKeyManagement (the real SDK client) pointed at the sandbox, one attempt per call so failures show at once. */
export const layerAwsOnFakeKms = (keyId: string) =>
  Layer.unwrap(
    Effect.map(FakeKmsServer, (kms) =>
      AwsKeyManagement.layer({
        keyId,
        region: "eu-central-1",
        endpoint: kms.url,
        credentials: fakeCredentials,
        maxAttempts: 1
      })
    )
  )
