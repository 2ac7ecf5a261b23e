import { readFile, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { layerKeyManagementFromConfig, layerVaultFromConfig } from "../../adapters/kms/KeyManagementConfig.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { somePlace } from "../contract/CredentialVaultContract.ts"
import { FakeKmsServer } from "../support/FakeKmsServer.ts"
import { tempDir } from "../support/TempDir.ts"

const random32 = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")

/** A key manager built in its own scope, as a separate process would. */
const keyManagerOf = <E>(layer: Layer.Layer<KeyManagement, E>) =>
  Effect.map(Layer.build(Layer.fresh(layer)), (context) => Context.get(context, KeyManagement))

const withConfig = (values: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(values))

describe("LocalKeyring", () => {
  it.effect("reads LOCAL_MASTER_KEY: the first entry is current, a bare key is named by its fingerprint", () =>
    Effect.gen(function* () {
      const named = yield* keyManagerOf(LocalKeyring.layerKeys(Redacted.make(`new:${random32()}, old:${random32()}`)))
      assert.strictEqual(named.currentKeyId, "new")
      const bare = random32()
      const first = yield* keyManagerOf(LocalKeyring.layerKeys(Redacted.make(bare)))
      const second = yield* keyManagerOf(LocalKeyring.layerKeys(Redacted.make(`\n${bare}\n`)))
      assert.match(first.currentKeyId, /^local-[0-9a-f]{8}$/)
      assert.strictEqual(second.currentKeyId, first.currentKeyId)
      const key = yield* first.generateDataKey
      assert.strictEqual(
        Buffer.from(Redacted.value(yield* second.decrypt(key.wrapped, key.keyId))).toString("hex"),
        Buffer.from(Redacted.value(key.plaintext)).toString("hex")
      )
    })
  )

  it.effect("refuses a malformed keyring without echoing it", () =>
    Effect.gen(function* () {
      const short = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")
      const good = random32()
      for (const text of [short, `a:${good},a:${good}`, `bad id:${good}`, "", `k:${good}!`]) {
        const error = yield* Effect.flip(keyManagerOf(LocalKeyring.layerKeys(Redacted.make(text))))
        assert.strictEqual(error._tag, "KeyManagementUnavailable")
        assert.isFalse(String(error).includes(good) || String(error).includes(short))
      }
    })
  )

  it.effect("generates the keyring file once, private to its owner, and reuses it", () =>
    Effect.gen(function* () {
      const dir = join(yield* tempDir("keyring-"), "nested", "data")
      const first = yield* keyManagerOf(LocalKeyring.layerFile(dir))
      const file = join(dir, "keyring")
      assert.strictEqual((yield* Effect.promise(() => stat(file))).mode & 0o777, 0o600)
      assert.strictEqual((yield* Effect.promise(() => stat(dir))).mode & 0o777, 0o700)
      const second = yield* keyManagerOf(LocalKeyring.layerFile(dir))
      assert.strictEqual(second.currentKeyId, first.currentKeyId)
      const key = yield* first.generateDataKey
      yield* second.decrypt(key.wrapped, key.keyId)
    })
  )

  it.effect("a running keyring reads keys added to the file later, and still refuses unknown ones", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("keyring-")
      const running = yield* keyManagerOf(LocalKeyring.layerFile(dir))
      const added = yield* LocalKeyring.addKey(dir)
      const text = yield* Effect.promise(() => readFile(join(dir, "keyring"), "utf8"))
      assert.strictEqual(text.split("\n")[0]?.split(":")[0], added)
      assert.strictEqual((yield* Effect.promise(() => stat(join(dir, "keyring")))).mode & 0o777, 0o600)

      const restarted = yield* keyManagerOf(LocalKeyring.layerFile(dir))
      assert.strictEqual(restarted.currentKeyId, added)
      const key = yield* restarted.generateDataKey
      const plain = yield* running.decrypt(key.wrapped, key.keyId)
      assert.strictEqual(
        Buffer.from(Redacted.value(plain)).toString("hex"),
        Buffer.from(Redacted.value(key.plaintext)).toString("hex")
      )
      assert.strictEqual(running.currentKeyId !== added, true)
      const moved = yield* running.reEncrypt(key.wrapped, key.keyId, running.currentKeyId)
      yield* restarted.decrypt(moved.wrapped, moved.keyId)

      const unknown = yield* Effect.flip(running.decrypt(key.wrapped, "local-deadbeef"))
      assert.strictEqual(unknown._tag, "SecretUnreadable")
    })
  )

  it.effect("never loses a key when additions race", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("keyring-")
      yield* keyManagerOf(LocalKeyring.layerFile(dir))
      const results = yield* Effect.all(
        Array.from({ length: 4 }, () => Effect.result(LocalKeyring.addKey(dir))),
        { concurrency: "unbounded" }
      )
      const added = results.flatMap((r) => (r._tag === "Success" ? [r.success] : []))
      assert.isAbove(added.length, 0)
      const text = yield* Effect.promise(() => readFile(join(dir, "keyring"), "utf8"))
      for (const id of added) assert.include(text, `${id}:`)
      assert.strictEqual(text.trim().split("\n").length, added.length + 1)
      yield* LocalKeyring.addKey(dir)
    })
  )

  it.effect("fails clearly when the keyring file is damaged", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("keyring-")
      yield* Effect.promise(() => writeFile(join(dir, "keyring"), "not a key\n", { mode: 0o600 }))
      const error = yield* Effect.flip(keyManagerOf(LocalKeyring.layerFile(dir)))
      assert.strictEqual(error._tag, "KeyManagementUnavailable")
    })
  )
})

describe("key management from config", () => {
  it.effect("uses LOCAL_MASTER_KEY before the data directory", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("keyring-")
      const keys = yield* keyManagerOf(
        layerKeyManagementFromConfig.pipe(
          Layer.provide(withConfig({ LOCAL_MASTER_KEY: `env-key:${random32()}`, DATA_DIR: dir }))
        )
      )
      assert.strictEqual(keys.currentKeyId, "env-key")
      const fromDir = yield* keyManagerOf(
        layerKeyManagementFromConfig.pipe(Layer.provide(withConfig({ DATA_DIR: dir })))
      )
      assert.match(fromDir.currentKeyId, /^local-/)
    })
  )

  it.effect("uses AWS KMS when KMS_KEY_ID is set, and the vault seals through it", () =>
    Effect.gen(function* () {
      const kms = yield* FakeKmsServer
      const config = withConfig({
        KMS_KEY_ID: "config-key",
        AWS_REGION: "ap-southeast-2",
        KMS_ENDPOINT: kms.url,
        AWS_ACCESS_KEY_ID: "AKIDSANDBOX",
        AWS_SECRET_ACCESS_KEY: "sandbox-secret"
      })
      yield* Effect.gen(function* () {
        const keys = yield* KeyManagement
        assert.strictEqual(keys.currentKeyId, kms.keyArn("config-key", "ap-southeast-2"))
        const vault = yield* CredentialVault
        const place = somePlace()
        const sealed = yield* vault.seal(place, Redacted.make("sk_live_from_config"))
        assert.strictEqual(Redacted.value(yield* vault.open(place, sealed)), "sk_live_from_config")
      }).pipe(Effect.provide(layerVaultFromConfig.pipe(Layer.provide(config))))
    }).pipe(Effect.provide(FakeKmsServer.layer()))
  )
})
