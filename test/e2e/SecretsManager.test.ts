import { execFile } from "node:child_process"
import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { startFakeSecretsManager } from "../sandbox/FakeSecretsManager.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const secretName = "integration-service/test"
const fromAws = {
  JWT_SECRET: "jwt-from-secrets-manager-4f1c9b2e7d5a3c8e0b6d4f2a9c7e5b3d",
  STRIPE_WEBHOOK_SECRET: "whsec_fromSecretsManager0123456789abcdef"
}
const fromEnv = "jwt-from-the-environment-8d2b6f0c4e9a7d5b3f1e8c6a4d2b0f9e"
const tenant = "5e5e5e5e-0000-4000-8000-00000000005e"

const fakeSecretsManager = Effect.acquireRelease(
  Effect.promise(() => startFakeSecretsManager({ secrets: { [secretName]: JSON.stringify(fromAws) } })),
  (fake) => Effect.promise(() => fake.close())
)

const awsEnv = (endpoint: string, secretId = secretName) => ({
  AWS_SECRETS_ID: secretId,
  SECRETS_MANAGER_ENDPOINT: endpoint,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "AKIDSANDBOX",
  AWS_SECRET_ACCESS_KEY: "sandbox-secret"
})

const tokenFor = (secret: string) =>
  Effect.promise(() =>
    signToken(Redacted.make(secret), { sub: "sm-user", tenantId: tenant, venueIds: [], role: "admin" })
  )

const listWith = (base: string, token: string) =>
  Effect.promise(() =>
    fetch(`${base}/api/v1/integrations/`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)
  )

const stripeEvent = readFileSync(`${repoRoot}/test/fixtures/stripe/customer.created.json`)
const postStripe = (base: string, secret: string) =>
  Effect.promise(() => {
    const t = Math.floor(Date.now() / 1000)
    const mac = createHmac("sha256", secret).update(`${t}.`).update(stripeEvent).digest("hex")
    return fetch(`${base}/api/v1/integrations/webhooks/stripe`, {
      method: "POST",
      headers: { "stripe-signature": `t=${t},v1=${mac}`, "content-type": "application/json" },
      body: stripeEvent
    }).then((r) => r.status)
  })

layer(TestDatabaseUrls.layer, { timeout: "60 seconds", excludeTestServices: true })(
  "settings from AWS Secrets Manager",
  (it) => {
    it.effect(
      "with only AWS_SECRETS_ID and the endpoint, the service takes its JWT and webhook secrets from the secret",
      () =>
        Effect.gen(function* () {
          const aws = yield* fakeSecretsManager
          const { service, base } = yield* spawnService("integration-sm-", awsEnv(aws.url))
          yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")

          assert.strictEqual(yield* listWith(base, yield* tokenFor(fromAws.JWT_SECRET)), 200)
          assert.strictEqual(yield* listWith(base, yield* tokenFor(fromEnv)), 401)
          assert.strictEqual(yield* postStripe(base, fromAws.STRIPE_WEBHOOK_SECRET), 200)
          assert.strictEqual(yield* postStripe(base, "whsec_someoneElse"), 401)

          assert.deepInclude(aws.calls(), { operation: "GetSecretValue", secretId: secretName })
          const output = service.output()
          assert.include(
            output,
            `settings from AWS Secrets Manager secret ${secretName}: JWT_SECRET, STRIPE_WEBHOOK_SECRET`
          )
          assert.notInclude(output, "generated a development secret into", "JWT_SECRET came from the secret")
          for (const value of Object.values(fromAws)) assert.notInclude(output, value, "a secret value was logged")

          // The dev-token command reads the same secret, so its tokens are the service's.
          const { stdout } = yield* Effect.promise(() =>
            promisify(execFile)(process.execPath, ["adapters/main/token.ts", "--tenant", tenant], {
              cwd: repoRoot,
              env: { PATH: process.env.PATH ?? "", DATA_DIR: "/nonexistent", ...awsEnv(aws.url) }
            })
          )
          assert.strictEqual(yield* listWith(base, stdout.trim().split("\n").at(-1)!), 200)
        }),
      { timeout: 180_000 }
    )

    it.effect(
      "an environment variable wins over the secret",
      () =>
        Effect.gen(function* () {
          const aws = yield* fakeSecretsManager
          const { service, base } = yield* spawnService("integration-sm-", {
            ...awsEnv(aws.url),
            JWT_SECRET: fromEnv
          })
          yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
          assert.strictEqual(yield* listWith(base, yield* tokenFor(fromEnv)), 200)
          assert.strictEqual(yield* listWith(base, yield* tokenFor(fromAws.JWT_SECRET)), 401)
          // The webhook secret still comes from the secret.
          assert.strictEqual(yield* postStripe(base, fromAws.STRIPE_WEBHOOK_SECRET), 200)
          assert.include(service.output(), "the environment overrides JWT_SECRET")
        }),
      { timeout: 120_000 }
    )

    it.effect(
      "a secret that cannot be read stops the start-up with one clear error and nothing leaked",
      () =>
        Effect.gen(function* () {
          const aws = yield* fakeSecretsManager
          aws.putSecret("not-json", `${fromAws.JWT_SECRET} is not JSON`)
          const missing = yield* spawnService("integration-sm-", awsEnv(aws.url, "no-such-secret"))
          const notJson = yield* spawnService("integration-sm-", awsEnv(aws.url, "not-json"))
          const [missingExit, notJsonExit] = yield* Effect.all([missing.service.exited, notJson.service.exited], {
            concurrency: 2
          }).pipe(Effect.timeout("90 seconds"))
          assert.notStrictEqual(missingExit.code, 0)
          assert.include(
            missing.service.output(),
            "AWS Secrets Manager GetSecretValue no-such-secret failed: ResourceNotFoundException (HTTP 400)"
          )
          assert.notStrictEqual(notJsonExit.code, 0)
          assert.include(notJson.service.output(), "AWS Secrets Manager secret not-json: is not JSON")
          assert.notInclude(notJson.service.output(), fromAws.JWT_SECRET)
        }),
      { timeout: 150_000 }
    )
  }
)
