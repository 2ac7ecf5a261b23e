import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnProcess } from "../support/Process.ts"
import { tempDir } from "../support/TempDir.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const ports = {
  SANDBOX_STRIPE_PORT: "0",
  SANDBOX_KMS_PORT: "0",
  SANDBOX_SQUARE_PORT: "0",
  SANDBOX_QUICKBOOKS_PORT: "0",
  SANDBOX_MAILCHIMP_PORT: "0"
}

/** `npm run sandbox` on spare ports; resolves with the environment it wrote once every fake listens. */
const startSandbox = (dataDir: string) =>
  Effect.gen(function* () {
    const sandbox = yield* spawnProcess(process.execPath, ["test/sandbox/main.ts"], {
      cwd: repoRoot,
      env: { SANDBOX_DATA_DIR: dataDir, PORT: "8123", ...ports }
    })
    yield* sandbox.waitForOutput(/Ctrl-C/, "30 seconds")
    const envFile = join(dataDir, "env")
    // Written before the output ends.
    const env = readFileSync(envFile, "utf8")
    const values = Object.fromEntries(
      env
        .split("\n")
        .filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])
    ) as Record<string, string>
    return { sandbox, env: values, envFile }
  })

const kmsClient = (env: Record<string, string>) =>
  new KMSClient({
    region: env.AWS_REGION!,
    endpoint: env.KMS_ENDPOINT!,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! }
  })

describe("npm run sandbox", () => {
  it.live(
    "writes the env it prints, with PUBLIC_BASE_URL; its fake KMS opens after a restart what it sealed before",
    () =>
      Effect.gen(function* () {
        const dataDir = yield* tempDir("integration-sandbox-")
        const first = yield* startSandbox(dataDir)
        assert.strictEqual(first.env.PUBLIC_BASE_URL, "http://127.0.0.1:8123")
        assert.strictEqual(first.env.KMS_KEY_ID, "sandbox-master-key")
        for (const line of readFileSync(first.envFile, "utf8").trim().split("\n"))
          assert.include(first.sandbox.output(), line, "the printed env and the file agree")

        const sealed = yield* Effect.promise(() =>
          kmsClient(first.env).send(
            new EncryptCommand({ KeyId: first.env.KMS_KEY_ID, Plaintext: new TextEncoder().encode("kept") })
          )
        )
        const exit = yield* first.sandbox.stop("SIGTERM")
        assert.strictEqual(exit.code, 0, first.sandbox.output())
        assert.isFalse(existsSync(first.envFile), "a stopped sandbox leaves no env file behind")

        const second = yield* startSandbox(dataDir)
        const opened = yield* Effect.promise(() =>
          kmsClient(second.env).send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }))
        )
        assert.strictEqual(new TextDecoder().decode(opened.Plaintext), "kept")
        yield* second.sandbox.stop("SIGTERM")
      }),
    { timeout: 120_000 }
  )
})
