import { type ChildProcess, spawn } from "node:child_process"
import { connect } from "node:net"
import { Effect, Redacted, Schedule, type Scope } from "effect"
import { freePort } from "./Process.ts"

const binary = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server"

const ping = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("error", reject)
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      return data.toString().startsWith("+PONG") ? resolve() : reject(new Error(data.toString()))
    })
  })

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

export interface RedisServer {
  readonly port: number
  readonly url: Redacted.Redacted<string>
  /** Stops the server (SIGKILL: no clean shutdown, like a crash). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port; resolves once it answers PING. */
  readonly start: Effect.Effect<void>
}

/**
 * A private, memory-only redis-server on a spare 127.0.0.1 port, for tests
 * that take Redis down. It is killed when the scope closes.
 */
export const makeRedisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function* () {
  const port = yield* freePort
  let child: ChildProcess | undefined
  const stop = Effect.promise(async () => {
    const running = child
    child = undefined
    if (running?.pid === undefined) return
    running.kill("SIGKILL")
    await exited(running)
  })
  const start = Effect.gen(function* () {
    yield* stop
    child = spawn(
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
      { stdio: "ignore" }
    )
    yield* Effect.tryPromise(() => ping(port)).pipe(
      Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }),
      Effect.orDie
    )
  })
  yield* Effect.acquireRelease(start, () => stop)
  return { port, url: Redacted.make(`redis://127.0.0.1:${port}`), stop, start }
})
