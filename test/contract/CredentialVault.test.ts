import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { FakeKmsServer, layerAwsOnFakeKms } from "../support/FakeKmsServer.ts"
import { credentialVaultContract, somePlace } from "./CredentialVaultContract.ts"

const random32 = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")

credentialVaultContract(
  "envelope over LocalKeyring",
  EnvelopeCredentialVault.layer.pipe(
    Layer.provideMerge(LocalKeyring.layerKeys(Redacted.make(`current:${random32()},older:${random32()}`)))
  ),
  { otherKeyId: "older" }
)

credentialVaultContract(
  "envelope over AwsKeyManagement on the sandbox KMS",
  EnvelopeCredentialVault.layer.pipe(
    Layer.provideMerge(layerAwsOnFakeKms("key-a")),
    Layer.provide(FakeKmsServer.layer())
  ),
  { otherKeyId: "key-b" }
)

/** The real keyring, recording every clear data key it hands out. */
const handedOut: Array<Uint8Array> = []
const RecordingKeyring = Layer.effect(
  KeyManagement,
  Effect.gen(function* () {
    const keys = yield* KeyManagement
    const record = (key: Redacted.Redacted<Uint8Array>) => Effect.sync(() => handedOut.push(Redacted.value(key)))
    return KeyManagement.of({
      ...keys,
      generateDataKey: Effect.tap(keys.generateDataKey, (key) => record(key.plaintext)),
      decrypt: (wrapped, keyId) => Effect.tap(keys.decrypt(wrapped, keyId), record)
    })
  })
).pipe(Layer.provide(LocalKeyring.layerKeys(Redacted.make(`only:${random32()}`))))

layer(EnvelopeCredentialVault.layer.pipe(Layer.provide(RecordingKeyring)))("EnvelopeCredentialVault", (it) => {
  it.effect("wipes every clear data key once used, on success and on failure", () =>
    Effect.gen(function* () {
      const vault = yield* CredentialVault
      const place = somePlace()
      const sealed = yield* vault.seal(place, Redacted.make("whsec_wipe_me"))
      yield* vault.open(place, sealed)
      yield* Effect.flip(vault.open(somePlace(), sealed))
      assert.strictEqual(handedOut.length, 3)
      for (const key of handedOut) assert.isTrue(key.every((byte) => byte === 0))
    })
  )
})
