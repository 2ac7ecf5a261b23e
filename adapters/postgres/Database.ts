import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import * as Str from "effect/String"
import { runMigrations } from "./Migrations.ts"
import { appRole } from "./TenantTransaction.ts"

const names = {
  transformResultNames: Str.snakeToCamel,
  transformQueryNames: Str.camelToSnake
}

/** The service's own connection string: the owner's URL with the non-owner role as user and no password. */
export const appUrlFrom = (ownerUrl: Redacted.Redacted<string>): Redacted.Redacted<string> => {
  const url = new URL(Redacted.value(ownerUrl))
  url.username = appRole
  url.password = ""
  return Redacted.make(url.toString())
}

export interface DatabaseUrls {
  readonly owner: Redacted.Redacted<string>
  readonly app: Redacted.Redacted<string>
  readonly maxConnections: number
}

export const PoolSizeConfig = Config.Int("DATABASE_POOL_SIZE").pipe(Config.withDefault(10))

export const DatabaseUrlsConfig = Config.all({
  owner: Config.Redacted("DATABASE_URL"),
  app: Config.option(Config.Redacted("DATABASE_APP_URL")),
  maxConnections: PoolSizeConfig
}).pipe(
  Config.map(
    ({ owner, app, maxConnections }): DatabaseUrls => ({
      owner,
      app: Option.getOrElse(app, () => appUrlFrom(owner)),
      maxConnections
    })
  )
)

/** Runs pending migrations over a short-lived owner connection. */
export const migrateWith = (owner: Redacted.Redacted<string>) =>
  runMigrations.pipe(Effect.provide(PgClient.layer({ url: owner, maxConnections: 1 })), Effect.scoped)

/** Migrations first (as the owner), then the service pool (as the non-owner role). */
export const layerDatabase = (urls: DatabaseUrls) =>
  Layer.unwrap(
    migrateWith(urls.owner).pipe(
      Effect.as(PgClient.layer({ url: urls.app, maxConnections: urls.maxConnections, ...names }))
    )
  )

/** A pool with the owner's rights, for commands that work across tenants (key rotation). */
export const layerOwner = (urls: DatabaseUrls) => PgClient.layer({ url: urls.owner, maxConnections: 2, ...names })
