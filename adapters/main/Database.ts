import { Config, Effect, Layer, Option, Redacted } from "effect"
import { type DatabaseUrls, DatabaseUrlsConfig, layerDatabase, PoolSizeConfig } from "../postgres/Database.ts"
import { startEmbeddedPostgres } from "../postgres/EmbeddedPostgres.ts"
import { PostgresSecretCatalog } from "../postgres/PostgresSecretCatalog.ts"
import { DataDirConfig } from "./DataDir.ts"

/** The service's pool, and the owner's catalog of sealed secrets for the credential check. */
const layerFor = (urls: DatabaseUrls) => Layer.merge(layerDatabase(urls), PostgresSecretCatalog.layerForChecks(urls))

/** PostgreSQL at DATABASE_URL, or with nothing configured an embedded PostgreSQL in DATA_DIR, stopped with the service. */
export const DatabaseLive = Layer.unwrap(
  Effect.gen(function* () {
    if (Option.isSome(yield* Config.option(Config.String("DATABASE_URL")))) {
      return layerFor(yield* DatabaseUrlsConfig)
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
    return layerFor(urls)
  })
)
