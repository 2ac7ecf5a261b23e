import process from "node:process"
import { setTimeout } from "node:timers"
import { Config, Duration, Effect } from "effect"

/** How long a graceful shutdown may take; the process exits after it. */
export const ShutdownTimeoutConfig = Config.Duration("SHUTDOWN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

/** In-flight requests get three quarters of SHUTDOWN_TIMEOUT; the rest is for workers, pools and the database. */
export const DrainTimeoutConfig = ShutdownTimeoutConfig.pipe(Config.map((timeout) => Duration.times(timeout, 0.75)))

/**
 * Runs the program with a hard deadline on graceful shutdown: from the first SIGINT or SIGTERM, the finalizers
 * (server drain, workers, pools, the embedded PostgreSQL) get SHUTDOWN_TIMEOUT, then the process exits with code 1
 * even if some work hangs. The timer does not keep a finished process alive.
 */
export const withShutdownDeadline = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.flatMap(ShutdownTimeoutConfig, (timeout) =>
    Effect.sync(() => {
      let armed = false
      const arm = () => {
        if (armed) return
        armed = true
        setTimeout(() => {
          Effect.runSync(
            Effect.logError(`Shutdown did not finish within ${Duration.format(timeout)} (SHUTDOWN_TIMEOUT): exiting.`)
          )
          process.exit(1)
        }, Duration.toMillis(timeout)).unref()
      }
      process.once("SIGINT", arm)
      process.once("SIGTERM", arm)
    }).pipe(Effect.andThen(program))
  )
