import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { JoseTokenVerifier } from "../../adapters/http/JoseTokenVerifier.ts"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { tempDir } from "../support/TempDir.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const run = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(() =>
    promisify(execFile)(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: new URL("../..", import.meta.url).pathname
    })
  )

/** Runs a script that is expected to fail, for its exit code and output. */
const runFailing = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(() =>
    promisify(execFile)(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: new URL("../..", import.meta.url).pathname
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr
      })
    )
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

  it.effect("npm run token -- --help prints the usage and exits 0", () =>
    Effect.gen(function* () {
      const { stdout } = yield* run("adapters/main/token.ts", ["--help"], { DATA_DIR: yield* tempDir("token-") })
      assert.match(stdout, /^Usage: npm run token -- /)
      assert.include(stdout, "--role admin|venue_admin|viewer")
    })
  )

  it.effect(
    "npm run token refuses what the service would refuse, naming the option, and prints no token",
    () =>
      Effect.gen(function* () {
        const env = { DATA_DIR: yield* tempDir("token-") }
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
          [["--tenant", "foo"], /--tenant "foo": Expected a UUID/],
          [["--role", "superuser"], /--role "superuser": Expected "admin" \| "venue_admin" \| "viewer"/],
          [["--venue", "x"], /--venue "x": Expected a UUID/],
          [["--ttl", "-5m"], /--ttl/],
          [["--ttl=-5m"], /--ttl "-5m": expected a positive/],
          [["--ttl", "25h"], /--ttl 25h: longer than JWT_MAX_TTL/],
          [["--bogus"], /Unknown option '--bogus'/]
        ]
        const results = yield* Effect.forEach(cases, ([args]) => runFailing("adapters/main/token.ts", args, env), {
          concurrency: 4
        })
        for (const [i, [args, message]] of cases.entries()) {
          const result = results[i]!
          assert.strictEqual(result.code, 2, `${args.join(" ")}: ${result.stderr}`)
          assert.match(result.stderr, message, args.join(" "))
          assert.include(result.stderr, "Usage: npm run token -- ")
          assert.notMatch(result.stderr, /^\s+at /m, "no stack trace")
          assert.strictEqual(result.stdout, "", `${args.join(" ")} printed a token`)
        }
        const shorter = yield* runFailing("adapters/main/token.ts", ["--ttl", "2h"], { ...env, JWT_MAX_TTL: "1 hour" })
        assert.strictEqual(shorter.code, 2)
        assert.match(shorter.stderr, /--ttl 2h: longer than JWT_MAX_TTL \(1h\)/)
      }),
    { timeout: 180_000 }
  )

  it.effect("npm run token --ttl sets the token's lifetime", () =>
    Effect.gen(function* () {
      const { stdout } = yield* run("adapters/main/token.ts", ["--role", "viewer", "--ttl", "30m"], {
        DATA_DIR: yield* tempDir("token-")
      })
      const token = stdout.trim().split("\n").at(-1)!
      const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"))
      assert.strictEqual(claims.exp - claims.iat, 30 * 60)
      assert.strictEqual(claims.role, "viewer")
    })
  )
})
