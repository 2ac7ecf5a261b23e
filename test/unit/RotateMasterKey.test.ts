import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { MemorySecretCatalog, type MemorySecrets } from "../../adapters/memory/MemorySecretCatalog.ts"
import { rotateMasterKey } from "../../application/RotateMasterKey.ts"
import { SealedSecret, type SecretPlace } from "../../domain/Credential.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { SecretCatalog } from "../../ports/SecretCatalog.ts"
import { somePlace } from "../contract/CredentialVaultContract.ts"
import { FakeKmsServer, layerAwsOnFakeKms } from "../support/FakeKmsServer.ts"

const random32 = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
const localVault = () =>
  EnvelopeCredentialVault.layer.pipe(
    Layer.provideMerge(LocalKeyring.layerKeys(Redacted.make(`key-a:${random32()},key-b:${random32()}`)))
  )

/** Seals `n` secrets into `secrets`, returning each place with its clear value. */
const sealSome = (secrets: MemorySecrets, n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) =>
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const place = somePlace({ field: i % 2 === 0 ? "access_token" : "refresh_token" })
        const value = `secret-${i}-${crypto.randomUUID()}`
        secrets.put({ place, sealed: yield* vault.seal(place, Redacted.make(value)) })
        return { place, value }
      })
  )

const openAll = (secrets: MemorySecrets, sealed: ReadonlyArray<{ place: SecretPlace; value: string }>) =>
  Effect.forEach(sealed, ({ place, value }) =>
    Effect.gen(function* () {
      const vault = yield* CredentialVault
      const current = yield* Effect.fromOption(secrets.get(place))
      assert.strictEqual(Redacted.value(yield* vault.open(place, current)), value)
      return current.keyId
    })
  )

describe("rotateMasterKey", () => {
  it.effect("moves every data key to the new master key in pages, and a second run does nothing", () => {
    const secrets = MemorySecretCatalog.make()
    return Effect.gen(function* () {
      const sealed = yield* sealSome(secrets, 7)
      const catalog = yield* SecretCatalog
      assert.strictEqual(yield* catalog.count(Option.some("key-a")), 7)
      const first = yield* rotateMasterKey("key-b", { batchSize: 3 })
      assert.deepStrictEqual(first, { rewrapped: 7, skipped: 0, unreadable: 0 })
      assert.strictEqual(yield* catalog.count(Option.some("key-b")), 7)
      assert.deepStrictEqual(yield* openAll(secrets, sealed), Array(7).fill("key-b"))
      assert.deepStrictEqual(yield* rotateMasterKey("key-b", { batchSize: 3 }), {
        rewrapped: 0,
        skipped: 0,
        unreadable: 0
      })
    }).pipe(Effect.provide(Layer.merge(localVault(), secrets.layer)))
  })

  it.effect("never overwrites a secret the service re-seals meanwhile", () => {
    const secrets = MemorySecretCatalog.make()
    const busy: Array<SecretPlace> = []
    const reseals: Array<string> = []
    // The catalog as the rotation sees it, while the service re-seals `busy` just before each write.
    const racing = Layer.effect(
      SecretCatalog,
      Effect.gen(function* () {
        const vault = yield* CredentialVault
        const inner = yield* SecretCatalog
        return SecretCatalog.of({
          ...inner,
          replaceWrappedKey: (place, previous, next) =>
            Effect.gen(function* () {
              if (busy.some((p) => p.tenantId === place.tenantId)) {
                const value = `refreshed-${reseals.length}`
                reseals.push(value)
                secrets.put({ place, sealed: yield* vault.seal(place, Redacted.make(value)).pipe(Effect.orDie) })
              }
              return yield* inner.replaceWrappedKey(place, previous, next)
            })
        })
      })
    ).pipe(Layer.provide(secrets.layer))
    return Effect.gen(function* () {
      const sealed = yield* sealSome(secrets, 4)
      busy.push(sealed[1]!.place)
      const report = yield* rotateMasterKey("key-b", { batchSize: 2 }).pipe(Effect.provide(racing))
      assert.deepStrictEqual(report, { rewrapped: 3, skipped: 1, unreadable: 0 })
      const vault = yield* CredentialVault
      const latest = yield* Effect.fromOption(secrets.get(sealed[1]!.place))
      assert.strictEqual(latest.keyId, "key-a")
      assert.strictEqual(Redacted.value(yield* vault.open(sealed[1]!.place, latest)), reseals.at(-1))
      const others = sealed.filter((_, i) => i !== 1)
      assert.deepStrictEqual(yield* openAll(secrets, others), ["key-b", "key-b", "key-b"])
    }).pipe(Effect.provide(Layer.merge(localVault(), secrets.layer)))
  })

  it.effect("counts secrets whose data key no longer unwraps and finishes anyway", () => {
    const secrets = MemorySecretCatalog.make()
    return Effect.gen(function* () {
      const sealed = yield* sealSome(secrets, 3)
      const broken = yield* Effect.fromOption(secrets.get(sealed[0]!.place))
      secrets.put({ place: sealed[0]!.place, sealed: new SealedSecret({ ...broken, keyId: "retired" }) })
      const report = yield* rotateMasterKey("key-b", { batchSize: 1 })
      assert.deepStrictEqual(report, { rewrapped: 2, skipped: 0, unreadable: 1 })
    }).pipe(Effect.provide(Layer.merge(localVault(), secrets.layer)))
  })

  it.effect("on AWS KMS, asks for the key ARN when given another name for the key", () => {
    const secrets = MemorySecretCatalog.make()
    return Effect.gen(function* () {
      const sealed = yield* sealSome(secrets, 2)
      const kms = yield* FakeKmsServer
      const keys = yield* KeyManagement
      assert.strictEqual(keys.currentKeyId, kms.keyArn("key-a", "eu-central-1"))
      const mismatch = yield* Effect.flip(rotateMasterKey("key-b", { batchSize: 10 }))
      assert.strictEqual(mismatch._tag, "RotationTargetMismatch")
      const target = kms.keyArn("key-b", "eu-central-1")
      assert.include(mismatch.message, target)
      assert.deepStrictEqual(yield* rotateMasterKey(target, { batchSize: 10 }), {
        rewrapped: 2,
        skipped: 0,
        unreadable: 0
      })
      assert.deepStrictEqual(yield* openAll(secrets, sealed), [target, target])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          EnvelopeCredentialVault.layer.pipe(Layer.provideMerge(layerAwsOnFakeKms("key-a"))),
          secrets.layer
        ).pipe(Layer.provideMerge(FakeKmsServer.layer()))
      )
    )
  })
})
