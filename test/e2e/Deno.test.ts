import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeKms } from "../sandbox/FakeKms.ts"
import { freePort, spawnProcess } from "../support/Process.ts"
import { tempDir } from "../support/TempDir.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const deno = join(repoRoot, "node_modules", ".bin", "deno")
const jwtSecret = "deno-e2e-jwt-secret-4b1d9e7c2a6f8e0d3c5b7a9f1e3d5c7b"

const kmsKeyId = "deno-e2e-master-key"

const fakeKms = Effect.acquireRelease(
  Effect.promise(() => startFakeKms({ keys: [kmsKeyId] })),
  (kms) => Effect.promise(() => kms.close())
)

layer(TestDatabaseUrls.layer, { timeout: "60 seconds", excludeTestServices: true })("the service under Deno", (it) => {
  it.effect(
    "`deno task start` serves the same API on PostgreSQL and AWS KMS, and exits cleanly on SIGTERM",
    () =>
      Effect.gen(function* () {
        assert.isTrue(existsSync(deno), `Deno is missing at ${deno}: run npm ci (deno is a devDependency)`)
        const urls = yield* TestDatabaseUrls
        const kms = yield* fakeKms
        const port = yield* freePort
        const base = `http://127.0.0.1:${port}`
        const service = yield* spawnProcess(deno, ["task", "start"], {
          cwd: repoRoot,
          env: {
            DATABASE_URL: Redacted.value(urls.owner),
            DATA_DIR: yield* tempDir("integration-deno-"),
            JWT_SECRET: jwtSecret,
            PORT: String(port),
            KMS_KEY_ID: kmsKeyId,
            KMS_ENDPOINT: kms.url,
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "AKIDSANDBOX",
            AWS_SECRET_ACCESS_KEY: "sandbox-secret"
          }
        })
        yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
        assert.include(service.output(), `Listening on ${base}`)

        const token = yield* Effect.promise(() =>
          signToken(Redacted.make(jwtSecret), {
            sub: "deno-user",
            tenantId: "dddddddd-0000-4000-8000-0000000000d1",
            venueIds: [],
            role: "admin"
          })
        )
        const get = (path: string) =>
          Effect.promise(async () => {
            const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
            return { status: response.status, body: await response.json() }
          })
        assert.deepStrictEqual(yield* get("/api/v1/integrations/"), { status: 200, body: [] })
        // Under Deno the AWS SDK needs --allow-sys=osRelease: without it KMS calls fail NotCapable and boot stops.
        const deep = yield* get("/monitoring/health/deep")
        assert.strictEqual(deep.status, 200)
        assert.strictEqual(deep.body.status, "ok")
        assert.deepInclude(deep.body.checks, {
          database: "ok",
          kms: "ok",
          credentials: "ok: no credentials stored yet"
        })
        // Each provider's host is probed too (no provider is configured here: not a reason to be unready).
        for (const provider of ["stripe", "square", "quickbooks", "mailchimp"])
          assert.property(deep.body.checks, `provider.${provider}`)

        // 130 is the interrupted-only exit of Effect's runMain: every finalizer ran without failing.
        const exit = yield* service.stop("SIGTERM")
        assert.deepStrictEqual(exit, { code: 130, signal: null }, service.output())
        assert.notMatch(service.output(), /\b(ERROR|FATAL)\b|Uncaught/)
      }),
    120_000
  )
})
