import { Config, Effect, Layer, Option, Redacted } from "effect"
import { DatabaseUrlsConfig, layerDatabase, PoolSizeConfig } from "../postgres/Database.ts"
import { startEmbeddedPostgres } from "../postgres/EmbeddedPostgres.ts"
import { DataDirConfig } from "./DataDir.ts"

/** PostgreSQL at DATABASE_URL, or with nothing configured an embedded PostgreSQL in DATA_DIR, stopped with the service. */
export const DatabaseLive = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isSome(yield* Config.option(Config.String("DATABASE_URL")))) {
      return layerDatabase(yield* DatabaseUrlsConfig)
    }
    const dataDir = yield* DataDirConfig
    const urls = yield* startEmbeddedPostgres(dataDir, yield* PoolSizeConfig).pipe(
      Effect.tapError((error) =>
        Effect.logError(`Cannot start the embedded PostgreSQL: ${error.message}. Or set DATABASE_URL.`)
      )
    )
    yield* Effect.logWarning(
      `DATABASE_URL is not set: running an embedded PostgreSQL in ${dataDir}/postgres (for development), at ${Redacted.value(urls.owner)}`
    )
    return layerDatabase(urls)
  })
)
