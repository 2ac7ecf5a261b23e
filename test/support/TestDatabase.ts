import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { appUrlFrom, type DatabaseUrls, layerDatabase, layerOwner } from "../../adapters/postgres/Database.ts"
import { startEmbeddedPostgres } from "../../adapters/postgres/EmbeddedPostgres.ts"
import { tempDir } from "./TempDir.ts"

/** The URLs of this test file's own database. */
export class TestDatabaseUrls extends Context.Service<TestDatabaseUrls, DatabaseUrls>()(
  "integration-service/test/TestDatabaseUrls"
) {
  /**
   * A fresh database per test file on the real PostgreSQL (TEST_DATABASE_URL,
   * default postgres://postgres@127.0.0.1:5432/test), dropped afterwards.
   * Unreachable PostgreSQL fails the test: nothing here skips. With
   * TEST_DATABASE=embedded (the vitest project "embedded"), the file gets the
   * service's embedded default instead: its own embedded PostgreSQL in a
   * temporary DATA_DIR, started by the same code as `npm start`.
   */
  static readonly layer = Layer.effect(
    TestDatabaseUrls,
    Effect.gen(function* () {
      if ((yield* Config.String("TEST_DATABASE").pipe(Config.withDefault("postgres"))) === "embedded") {
        return yield* startEmbeddedPostgres(yield* tempDir("it-embedded-"), 5)
      }
      const admin = yield* Config.String("TEST_DATABASE_URL").pipe(
        Config.withDefault("postgres://postgres@127.0.0.1:5432/test")
      )
      const name = `it_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
      const run = (statement: string) =>
        Effect.gen(function* () {
          const sql = yield* PgClient.PgClient
          yield* sql.unsafe(statement)
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(admin), maxConnections: 1 })), Effect.scoped)
      yield* Effect.acquireRelease(run(`CREATE DATABASE ${name}`), () =>
        run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
      )
      const owner = new URL(admin)
      owner.pathname = `/${name}`
      const ownerUrl = Redacted.make(owner.toString())
      return { owner: ownerUrl, app: appUrlFrom(ownerUrl), maxConnections: 5 }
    }).pipe(Effect.orDie)
  )
}

/** The service's pool (non-owner role) on a fresh, migrated database; the URLs stay available. */
export const TestDatabase = Layer.unwrap(Effect.map(TestDatabaseUrls, layerDatabase)).pipe(
  Layer.orDie,
  Layer.provideMerge(TestDatabaseUrls.layer)
)

/** A superuser pool on the same database, for setting up and checking what the service role may not. */
export class OwnerSql extends Context.Service<OwnerSql, SqlClient.SqlClient>()("integration-service/test/OwnerSql") {
  static readonly layer = Layer.effect(OwnerSql, SqlClient.SqlClient).pipe(
    Layer.provide(Layer.unwrap(Effect.map(TestDatabaseUrls, layerOwner)).pipe(Layer.orDie))
  )
}
