import { createServer, type Server } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { spawnProcess } from "../support/Process.ts"
import { tempDir } from "../support/TempDir.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

/** Another process's socket on a port, held until the scope closes. */
const takenPort = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ server: Server; port: number }>((resolve, reject) => {
        const server = createServer()
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 })
        })
      })
  ),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

const startOnTakenPort = (command: string, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const urls = yield* TestDatabaseUrls
    const { port } = yield* takenPort
    const service = yield* spawnProcess(command, args, {
      cwd: repoRoot,
      env: {
        PORT: String(port),
        DATABASE_URL: Redacted.value(urls.owner),
        DATA_DIR: yield* tempDir("integration-busy-port-"),
        JWT_SECRET: "busy-port-test-secret-0123456789abcdef0123456789"
      }
    })
    const exit = yield* service.exited.pipe(Effect.timeout("60 seconds"))
    return { port, exit, output: service.output() }
  })

const assertOneLine = (result: { port: number; exit: { code: number | null }; output: string }) => {
  assert.strictEqual(result.exit.code, 1, result.output)
  const lines = result.output.split("\n").filter((line) => line.includes("cannot listen"))
  assert.lengthOf(lines, 1, result.output)
  assert.include(lines[0], `cannot listen on 127.0.0.1:${result.port}: the port is already in use`)
  assert.notInclude(result.output, "ServeError")
  assert.notMatch(result.output, /^\s+at /m, "no stack trace")
}

layer(TestDatabaseUrls.layer, { timeout: "120 seconds", excludeTestServices: true })("a port already taken", (it) => {
  it.effect("Node prints one line naming the port and exits 1", () =>
    Effect.gen(function* () {
      assertOneLine(yield* startOnTakenPort(process.execPath, ["adapters/main/node.ts"]))
    })
  )

  it.effect("Deno prints the same line and exits 1", () =>
    Effect.gen(function* () {
      assertOneLine(yield* startOnTakenPort(join(repoRoot, "node_modules", ".bin", "deno"), ["task", "start"]))
    })
  )
})
