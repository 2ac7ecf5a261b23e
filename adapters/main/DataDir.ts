import { mkdir, readFile, writeFile } from "node:fs/promises"
import { Config, Effect, Redacted } from "effect"

export const DataDirConfig = Config.String("DATA_DIR").pipe(Config.withDefault("./.data"))

/**
 * A development secret kept in `<DATA_DIR>/<name>`: read when present, else
 * generated once (256 random bits, mode 0600) with a loud warning, so the
 * service and `npm run token` agree without any configuration.
 */
export const developmentSecret = (dataDir: string, name: string, purpose: string) =>
  Effect.gen(function* () {
    const path = `${dataDir}/${name}`
    const existing = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(Effect.option)
    if (existing._tag === "Some" && existing.value.trim() !== "") return Redacted.make(existing.value.trim())
    const bytes = crypto.getRandomValues(new Uint8Array(32))
    const secret = btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")
    yield* Effect.tryPromise(async () => {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      await writeFile(path, `${secret}\n`, { mode: 0o600, flag: "wx" })
    }).pipe(Effect.ignore)
    yield* Effect.logWarning(
      `${purpose} was not configured: generated a development secret into ${path}. Do not use this in production.`
    )
    const written = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(Effect.orDie)
    return Redacted.make(written.trim())
  })
