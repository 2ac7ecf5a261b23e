import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import { freePort, spawnProcess } from "./Process.ts"
import { TestDatabaseUrls } from "./TestDatabase.ts"

/** The service's Node entry point as a child process on a spare port, on the test database, with a fresh data dir. */
export const spawnService = (dataDirPrefix: string, env: Record<string, string>) =>
  Effect.gen(function* () {
    const urls = yield* TestDatabaseUrls
    const port = yield* freePort
    const service = yield* spawnProcess(process.execPath, ["adapters/main/node.ts"], {
      env: {
        PORT: String(port),
        DATABASE_URL: Redacted.value(urls.owner),
        DATA_DIR: mkdtempSync(join(tmpdir(), dataDirPrefix)),
        ...env
      }
    })
    return { service, port, base: `http://127.0.0.1:${port}` }
  })
