import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { DatabaseUrlsConfig, migrateWith } from "../postgres/Database.ts"

// Applies pending migrations to DATABASE_URL as its owner; a second run applies nothing.
const program = Effect.gen(function* () {
  const urls = yield* DatabaseUrlsConfig
  const applied = yield* migrateWith(urls.owner)
  yield* Console.log(
    applied.length === 0
      ? "migrations: up to date"
      : `migrations applied: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`
  )
})

NodeRuntime.runMain(program)
