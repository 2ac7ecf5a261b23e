import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { EnvelopeCredentialVault } from "../../adapters/kms/EnvelopeCredentialVault.ts"
import { LocalKeyring } from "../../adapters/kms/LocalKeyring.ts"
import { SealedSecret } from "../../domain/Credential.ts"
import { CredentialVault } from "../../ports/CredentialVault.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { somePlace } from "../contract/CredentialVaultContract.ts"
import { tempDir } from "../support/TempDir.ts"
import { OwnerSql, TestDatabase, TestDatabaseUrls } from "../support/TestDatabase.ts"

const cli = fileURLToPath(new URL("../../adapters/main/rotateKeys.ts", import.meta.url))

class DataDir extends Context.Service<DataDir, string>()("integration-service/test/RotateKeysCli/DataDir") {
  static readonly layer = Layer.effect(DataDir, tempDir("rotate-cli-"))
}

const Env = Layer.mergeAll(
  EnvelopeCredentialVault.layer.pipe(Layer.provideMerge(Layer.unwrap(Effect.map(DataDir, LocalKeyring.layerFile)))),
  OwnerSql.layer
).pipe(Layer.provideMerge(DataDir.layer), Layer.provideMerge(TestDatabase))

const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.callback<{ readonly code: number; readonly output: string }>((resume) => {
    const { PATH, HOME } = process.env
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: PATH ?? "", HOME: HOME ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}\n${stderr}` }))
    )
  })

layer(Env, { timeout: "60 seconds" })("rotate-keys command", (it) => {
  it.effect("adds a key, rotates the stored secrets to it, and prints counts but no key material", () =>
    Effect.gen(function* () {
      const sql = yield* OwnerSql
      const vault = yield* CredentialVault
      const oldKey = (yield* KeyManagement).currentKeyId
      const dataDir = yield* DataDir
      const place = somePlace()
      const connectionId = crypto.randomUUID()
      yield* sql`INSERT INTO connections ${sql.insert({
        id: connectionId,
        tenantId: place.tenantId,
        venueId: place.venueId,
        provider: place.provider,
        authType: "api_key",
        status: "connected"
      })}`
      const sealed = yield* vault.seal(place, Redacted.make("sk_live_cli"))
      yield* sql`INSERT INTO credentials ${sql.insert({
        tenantId: place.tenantId,
        connectionId,
        venueId: place.venueId,
        provider: place.provider,
        field: place.field,
        ciphertext: sealed.ciphertext,
        iv: sealed.iv,
        wrappedKey: sealed.wrappedKey,
        keyId: sealed.keyId
      })}`

      const env = { DATABASE_URL: Redacted.value((yield* TestDatabaseUrls).owner), DATA_DIR: dataDir }
      const result = yield* run(["--new", "--batch-size", "10"], env)
      assert.strictEqual(result.code, 0, result.output)
      assert.include(result.output, "rewrapped:  1")
      assert.include(result.output, "now under")
      const keyring = yield* Effect.promise(() => readFile(join(dataDir, "keyring"), "utf8"))
      const [newKey] = keyring.split("\n")[0]!.split(":")
      for (const line of keyring.trim().split("\n")) assert.notInclude(result.output, line.split(":")[1]!)

      const [row] = yield* sql<{ keyId: string; wrappedKey: Uint8Array }>`
        SELECT key_id, wrapped_key FROM credentials WHERE tenant_id = ${place.tenantId}`
      assert.strictEqual(row?.keyId, newKey)
      assert.notStrictEqual(row?.keyId, oldKey)
      const opened = yield* vault.open(
        place,
        new SealedSecret({ ...sealed, wrappedKey: row!.wrappedKey, keyId: row!.keyId })
      )
      assert.strictEqual(Redacted.value(opened), "sk_live_cli")

      const again = yield* run([], env)
      assert.strictEqual(again.code, 0, again.output)
      assert.include(again.output, "rewrapped:  0")
    })
  )
})
