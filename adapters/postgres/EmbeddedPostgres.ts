import { mkdir } from "node:fs/promises"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Effect, Redacted } from "effect"
import type { DatabaseUrls } from "./Database.ts"

/**
 * PGlite in `<dataDir>/pgdata`, served over the Postgres wire protocol on a
 * loopback port so the same driver, migrations and RLS run as in production.
 * PGlite executes one query at a time and the socket server interleaves
 * connections per query, so the service keeps a single pooled connection (the
 * server allows a few, so a closing connection does not block the next).
 */
export const startEmbeddedPostgres = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const db = await PGlite.create(`${dataDir}/pgdata`)
      const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 })
      await server.start()
      return { db, server }
    }),
    ({ db, server }) =>
      Effect.promise(async () => {
        await server.stop()
        await db.close()
      })
  ).pipe(
    Effect.map(({ server }): DatabaseUrls => {
      const url = Redacted.make(`postgres://postgres@${server.getServerConn()}/postgres`)
      return { owner: url, app: url, maxConnections: 1 }
    }),
    Effect.withSpan("EmbeddedPostgres.start")
  )
