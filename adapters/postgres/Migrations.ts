import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect, Schedule } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { splitStatements } from "./SqlScript.ts"

const directory = fileURLToPath(new URL("../../migrations", import.meta.url))

/** `migrations/NNNN_name.sql`, in order; each file runs inside the migrator's transaction. */
const loader: Migrator.Loader = Effect.try({
  try: () =>
    readdirSync(directory)
      .flatMap((file) => {
        const match = /^(\d+)_(.+)\.sql$/.exec(file)
        return match ? [[Number(match[1]), match[2] ?? file, file] as const] : []
      })
      .sort(([a], [b]) => a - b)
      .map(
        ([id, name, file]): Migrator.ResolvedMigration => [
          id,
          name,
          Effect.succeed(
            Effect.gen(function* () {
              const sql = yield* SqlClient.SqlClient
              for (const statement of splitStatements(readFileSync(`${directory}/${file}`, "utf8"))) {
                yield* sql.unsafe(statement)
              }
            })
          )
        ]
      ),
  catch: (cause) => new Migrator.MigrationError({ kind: "BadState", message: `cannot read ${directory}`, cause })
})

const migrate = Migrator.make({})

/**
 * Applies pending migrations as the owner. Idempotent; a concurrent run holds
 * the migrations table lock, so a "Locked" failure is retried briefly.
 */
export const runMigrations = migrate({ loader, table: "schema_migrations" }).pipe(
  Effect.retry({
    while: (e) => e._tag === "MigrationError" && e.kind === "Locked",
    schedule: Schedule.spaced("200 millis"),
    times: 50
  }),
  Effect.withSpan("Migrations.run")
)
