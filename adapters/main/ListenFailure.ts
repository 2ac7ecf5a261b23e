import { Data, Effect, Runtime } from "effect"
import type { HttpServerError } from "effect/http"

/** The HTTP socket could not be bound; the reason is already logged on one line, so runMain adds no stack trace. */
class ListenFailed extends Data.TaggedError("ListenFailed")<{ readonly message: string }> {
  override readonly [Runtime.errorReported] = false
}

interface SocketError {
  readonly code?: unknown
  readonly address?: unknown
  readonly port?: unknown
  readonly message?: unknown
}

const reasons: Record<string, string> = {
  EADDRINUSE: "the port is already in use (set PORT, or stop the process holding it)",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "the address is not one of this machine's (check HOST)"
}

/** One line naming the address and port, from Node's `listen` error (or one shaped like it). */
export const listenFailureMessage = (cause: unknown): string => {
  const error = (typeof cause === "object" && cause !== null ? cause : {}) as SocketError
  const where = `${String(error.address ?? "?")}:${String(error.port ?? "?")}`
  const code = typeof error.code === "string" ? error.code : undefined
  const reason = (code && reasons[code]) ?? String(error.message ?? cause)
  return `cannot listen on ${where}: ${reason}`
}

/** Turns a failure to bind the HTTP socket into one error line and exit code 1. */
export const exitOnListenFailure = <A, E, R>(self: Effect.Effect<A, E | HttpServerError.ServeError, R>) =>
  Effect.catchIf(
    self,
    (e): e is HttpServerError.ServeError =>
      typeof e === "object" && e !== null && "_tag" in e && e._tag === "ServeError",
    (e) => {
      const message = listenFailureMessage(e.cause)
      return Effect.logError(message).pipe(Effect.andThen(Effect.fail(new ListenFailed({ message }))))
    }
  )
