import { Effect, Redacted, Schedule } from "effect"
import { Redis as IORedis } from "ioredis"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { OwnerSql } from "./TestDatabase.ts"

export const clusterJwtSecret = "sync-cluster-jwt-secret-5b7d9f1a3c5e7a9b1d3f"
const redisUrl = "redis://127.0.0.1:6379"

/**
 * What every process of one test's cluster shares: the local Redis under prefixes of its own (queues, budgets and
 * breakers of other tests never mix in; the keys are deleted when the scope closes), one master key (each process
 * opens what another sealed), short claim and heartbeat timeouts so a killed worker's job moves on within seconds,
 * and no periodic scheduler.
 */
export const clusterEnv = Effect.gen(function* () {
  const prefix = `test:sync:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      const redis = new IORedis(redisUrl)
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    })
  )
  return {
    JWT_SECRET: clusterJwtSecret,
    LOCAL_MASTER_KEY: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`,
    REDIS_URL: redisUrl,
    REDIS_QUEUE_PREFIX: `${prefix}pq:`,
    RATE_LIMIT_PREFIX: `${prefix}rl:`,
    CIRCUIT_BREAKER_PREFIX: `${prefix}cb:`,
    WEBHOOK_CLAIM_IDLE: "2 seconds",
    SYNC_HEARTBEAT_TIMEOUT: "2 seconds",
    SYNC_HEARTBEAT_INTERVAL: "300 millis",
    SYNC_SCHEDULER: "false",
    SYNC_SCHEDULER_TICK: "500 millis",
    SYNC_RETRY_BASE_DELAY: "20 millis",
    HTTP_REQUEST_LOG: "false",
    DATABASE_POOL_SIZE: "4"
  } satisfies Record<string, string>
})

/** One JSON call to a process of the cluster as an admin of `tenantId`. */
export const clusterRequest = (
  base: string,
  tenantId: string,
  method: "GET" | "POST" | "PUT",
  path: string,
  body?: unknown
) =>
  Effect.promise(async () => {
    const token = await signToken(Redacted.make(clusterJwtSecret), {
      sub: "sync-admin",
      tenantId,
      venueIds: [],
      role: "admin"
    })
    const response = await fetch(`${base}${path}`, {
      method,
      redirect: "manual",
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000)
    })
    const text = await response.text()
    let parsed: any = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: response.status, body: parsed, text }
  })

export interface JobRow {
  readonly id: string
  readonly entityType: string
  readonly status: string
  readonly pages: number
  readonly attempts: number
  readonly fetched: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly deleted: number
  readonly lastError: string | null
}

/** The job rows as they stand, read as the database owner (no tenant needed). */
export const jobRows = Effect.gen(function* () {
  const sql = yield* OwnerSql
  return yield* sql<JobRow>`SELECT id, entity_type, status, coalesce((checkpoint->>'pages')::int, 0) AS pages,
      attempts, fetched, created, updated, unchanged, deleted, last_error
    FROM sync_jobs ORDER BY created_at, id`
}).pipe(Effect.orDie)

/** Polls the job rows until `done` holds of them; fails with the last rows when `timeout` passes. */
export const untilJobs = (done: (rows: ReadonlyArray<JobRow>) => boolean, timeoutMillis = 90_000) =>
  jobRows.pipe(
    Effect.flatMap((rows) => (done(rows) ? Effect.succeed(rows) : Effect.fail(rows))),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: `${timeoutMillis} millis` }))),
    Effect.catch((rows) => Effect.die(new Error(`jobs did not get there: ${JSON.stringify(rows)}`)))
  )
