import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { JoseTokenVerifier } from "../../adapters/http/JoseTokenVerifier.ts"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const run = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(() =>
    promisify(execFile)(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: new URL("../..", import.meta.url).pathname
    })
  )

layer(TestDatabaseUrls.layer, { timeout: "60 seconds" })("command line", (it) => {
  it.effect("npm run migrate applies every migration once; a second run applies nothing", () =>
    Effect.gen(function* () {
      const urls = yield* TestDatabaseUrls
      const env = { DATABASE_URL: Redacted.value(urls.owner) }
      const first = yield* run("adapters/main/migrate.ts", [], env)
      assert.match(first.stdout, /migrations applied: 1_roles, 2_connections/)
      const second = yield* run("adapters/main/migrate.ts", [], env)
      assert.match(second.stdout, /migrations: up to date/)
    })
  )

  it.effect("npm run token prints a JWT the service accepts, for the secret the service uses", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "integration-token-"))
      const tenant = "aaaaaaaa-0000-4000-8000-0000000000aa"
      const venue = "aaaaaaaa-1111-4000-8000-0000000000aa"
      const { stdout, stderr } = yield* run(
        "adapters/main/token.ts",
        ["--tenant", tenant, "--role", "venue_admin", "--venue", venue],
        { DATA_DIR: dataDir }
      )
      assert.match(stderr + stdout, /generated a development secret/)
      const token = stdout.trim().split("\n").at(-1)!
      const secret = yield* Effect.promise(() =>
        import("node:fs/promises").then((fs) => fs.readFile(join(dataDir, "jwt-secret"), "utf8"))
      )
      const principal = yield* TokenVerifier.use((v) => v.verify(Redacted.make(token))).pipe(
        Effect.provide(
          JoseTokenVerifier.layer({
            keys: { _tag: "Secret", secret: Redacted.make(secret.trim()) },
            issuer: Option.none(),
            audience: Option.none()
          })
        )
      )
      assert.strictEqual(principal.tenantId, tenant)
      assert.deepStrictEqual([...principal.venueIds], [venue])
      assert.strictEqual(principal.role, "venue_admin")
      assert.notInclude(stdout + stderr, secret.trim())
    })
  )
})
