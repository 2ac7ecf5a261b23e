import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { Duration, Effect, Schedule, type Scope } from "effect"

export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A child process under test, with everything it wrote so far. */
export interface SpawnedProcess {
  readonly pid: number
  /** stdout and stderr interleaved as they arrived. */
  readonly output: () => string
  readonly stdout: () => string
  /** Waits until the output matches, failing with the output so far when it exits first or time runs out. */
  readonly waitForOutput: (pattern: RegExp, timeout: Duration.Input) => Effect.Effect<void, Error>
  /** Polls the URL until it answers 200, failing with the output when the process exits first or time runs out. */
  readonly waitForUrl: (url: string, timeout: Duration.Input) => Effect.Effect<void, Error>
  /** Sends the signal and waits for the exit. */
  readonly stop: (signal?: NodeJS.Signals, timeout?: Duration.Input) => Effect.Effect<ProcessExit, Error>
  readonly exited: Effect.Effect<ProcessExit>
}

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

const exitOf = (child: ChildProcess): Promise<ProcessExit> =>
  new Promise((resolve) => {
    if (!isRunning(child)) resolve({ code: child.exitCode, signal: child.signalCode })
    else child.once("exit", (code, signal) => resolve({ code, signal }))
  })

/**
 * Spawns a command with exactly the given environment (plus PATH and HOME, which
 * are not configuration), collecting its output. Closing the scope kills it if
 * it is still running.
 */
export const spawnProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env: Record<string, string>; readonly cwd?: string }
): Effect.Effect<SpawnedProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, args, {
        cwd: options.cwd ?? process.cwd(),
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      let stdout = ""
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
        stdout += chunk.toString("utf8")
      })
      child.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
      })
      // A command that cannot start (ENOENT) never emits "exit".
      const exit = Promise.race([
        exitOf(child),
        new Promise<ProcessExit>((resolve) =>
          child.once("error", (error) => {
            output += `${error}\n`
            resolve({ code: null, signal: null })
          })
        )
      ])
      return { child, output: () => output, stdout: () => stdout, exit }
    }),
    ({ child, exit }) =>
      Effect.promise(async () => {
        if (isRunning(child)) child.kill("SIGKILL")
        await exit
      })
  ).pipe(
    Effect.map(({ child, output, stdout, exit }): SpawnedProcess => {
      const exited = Effect.promise(() => exit)
      const failWithOutput = (what: string) => new Error(`${what}; ${command} ${args.join(" ")} wrote:\n${output()}`)
      const untilExitOr = <A>(effect: Effect.Effect<A, Error>, what: string, timeout: Duration.Input) =>
        Effect.raceFirst(
          effect,
          Effect.flatMap(exited, (e) => Effect.fail(failWithOutput(`${what}: exited first (${e.code ?? e.signal})`)))
        ).pipe(
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(failWithOutput(`${what}: timed out`)) })
        )
      return {
        pid: child.pid ?? -1,
        output,
        stdout,
        exited,
        waitForOutput: (pattern, timeout) =>
          untilExitOr(
            Effect.suspend(() => (pattern.test(output()) ? Effect.void : Effect.fail(new Error("not yet")))).pipe(
              Effect.retry(Schedule.spaced("50 millis"))
            ),
            `waiting for ${pattern}`,
            timeout
          ),
        waitForUrl: (url, timeout) =>
          untilExitOr(
            Effect.tryPromise({
              try: () => fetch(url, { signal: AbortSignal.timeout(2_000) }),
              catch: (cause) => new Error(String(cause))
            }).pipe(
              Effect.flatMap((response) =>
                response.status === 200 ? Effect.void : Effect.fail(new Error(`status ${response.status}`))
              ),
              Effect.retry(Schedule.spaced("100 millis"))
            ),
            `waiting for ${url}`,
            timeout
          ),
        stop: (signal = "SIGTERM", timeout = "30 seconds") =>
          Effect.sync(() => child.kill(signal)).pipe(
            Effect.andThen(exited),
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(
                  failWithOutput(`no exit within ${Duration.format(Duration.fromInputUnsafe(timeout))} of ${signal}`)
                )
            })
          )
      }
    })
  )

/** Runs a command to completion and returns its stdout, failing with all its output on a non-zero exit. */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env: Record<string, string>; readonly cwd?: string; readonly timeout?: Duration.Input }
): Effect.Effect<string, Error> =>
  Effect.scoped(
    Effect.gen(function* () {
      const spawned = yield* spawnProcess(command, args, options)
      const { code } = yield* spawned.exited.pipe(
        Effect.timeoutOrElse({
          duration: options.timeout ?? "30 seconds",
          orElse: () => Effect.fail(new Error(`${command} timed out:\n${spawned.output()}`))
        })
      )
      if (code !== 0) return yield* Effect.fail(new Error(`${command} exited ${code}:\n${spawned.output()}`))
      return spawned.stdout()
    })
  )

/** A TCP port that was free a moment ago on 127.0.0.1. */
export const freePort: Effect.Effect<number> = Effect.promise(
  () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
)
