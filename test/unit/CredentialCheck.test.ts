import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { MemorySecretCatalog, type MemorySecrets } from "../../adapters/memory/MemorySecretCatalog.ts"
import { CredentialCheck, credentialSampleSize } from "../../application/CredentialCheck.ts"
import { KeyManagementUnavailable } from "../../domain/Errors.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { somePlace } from "../contract/CredentialVaultContract.ts"

const random32 = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
const keyring = (id: string) => LocalKeyring.layerKeys(Redacted.make(`${id}:${random32()}`))
const vaultOver = <E>(keys: Layer.Layer<KeyManagement, E>) =>
  EnvelopeCredentialVault.layer.pipe(Layer.provideMerge(keys))

/** Seals `n` secrets with whatever vault is provided, into `secrets`. */
const sealSome = (secrets: MemorySecrets, n: number) =>
  Effect.forEach(Array.from({ length: n }), () =>
    Effect.gen(function* () {
      const place = somePlace({ field: "api_key" })
      const vault = yield* CredentialVault
      secrets.put({ place, sealed: yield* vault.seal(place, Redacted.make(`secret-${crypto.randomUUID()}`)) })
    })
  )

const checkWith = <E>(secrets: MemorySecrets, keys: Layer.Layer<KeyManagement, E>) =>
  CredentialCheck.use((c) => Effect.map(c.check, (report) => ({ report, line: c.describe(report) }))).pipe(
    Effect.provide(CredentialCheck.layer.pipe(Layer.provide(Layer.merge(vaultOver(keys), secrets.layer))))
  )

describe("CredentialCheck", () => {
  it.effect("nothing stored, all readable, and a bounded sample", () =>
    Effect.gen(function* () {
      const secrets = MemorySecretCatalog.make()
      const keys = keyring("key-a")
      const empty = yield* checkWith(secrets, keys)
      assert.deepStrictEqual(empty.report, { _tag: "NoneStored" })
      yield* sealSome(secrets, 50).pipe(Effect.provide(vaultOver(keys)))
      const full = yield* checkWith(secrets, keys)
      assert.deepStrictEqual(full.report, { _tag: "Readable", sampled: credentialSampleSize })
      assert.strictEqual(full.line, `ok: ${credentialSampleSize} sampled credentials open with master key key-a`)
    })
  )

  it.effect("another master key: every sampled credential is unreadable, named with the keys that sealed them", () =>
    Effect.gen(function* () {
      const secrets = MemorySecretCatalog.make()
      yield* sealSome(secrets, 3).pipe(Effect.provide(vaultOver(keyring("key-a"))))
      const { report, line } = yield* checkWith(secrets, keyring("key-b"))
      assert.deepStrictEqual(report, { _tag: "Unreadable", sampled: 3, unreadable: 3, keyIds: ["key-a"] })
      assert.match(
        line,
        /^3 of 3 sampled credentials do not open with the configured master key key-b \(they were sealed under key-a\)/
      )
    })
  )

  it.effect("a key manager that is down is 'unchecked', not unreadable", () =>
    Effect.gen(function* () {
      const secrets = MemorySecretCatalog.make()
      const keys = keyring("key-a")
      yield* sealSome(secrets, 2).pipe(Effect.provide(vaultOver(keys)))
      const down = Layer.effect(
        KeyManagement,
        Effect.map(KeyManagement, (k) =>
          KeyManagement.of({
            ...k,
            decrypt: () =>
              Effect.fail(new KeyManagementUnavailable({ message: "KMS Decrypt failed: KMSInternalException" }))
          })
        )
      ).pipe(Layer.provide(keys))
      const { report, line } = yield* checkWith(secrets, down)
      assert.strictEqual(report._tag, "Unchecked")
      assert.strictEqual(line, "unchecked: KMS Decrypt failed: KMSInternalException")
    })
  )
})
