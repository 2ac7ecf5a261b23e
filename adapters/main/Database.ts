import { Config, Effect, Layer, Option } from "effect"
import { DatabaseUrlsConfig, layerDatabase } from "../postgres/Database.ts"
import { startEmbeddedPostgres } from "../postgres/EmbeddedPostgres.ts"
import { DataDirConfig } from "./DataDir.ts"

/** PostgreSQL at DATABASE_URL, or with nothing configured the embedded PGlite in DATA_DIR. */
export const DatabaseLive = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isSome(yield* Config.option(Config.String("DATABASE_URL")))) {
      return layerDatabase(yield* DatabaseUrlsConfig)
    }
    const dataDir = yield* DataDirConfig
    yield* Effect.logWarning(
      `DATABASE_URL is not set: running on embedded PGlite in ${dataDir}/pgdata (single connection, for development).`
    )
    return layerDatabase(yield* startEmbeddedPostgres(dataDir))
  })
)
