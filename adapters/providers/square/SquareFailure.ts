import { SquareError, SquareTimeoutError } from "square"
import { failureKindOf, ProviderCallFailed, type ProviderFailureKind } from "../../../ports/sync/ProviderData.ts"

/** Square publishes no limits or reset clock (PROVIDERS.md §1d): without a header, wait a second as its SDK does. */
const defaultRetryAfterMillis = 1000

/** `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (epoch seconds, as the SDK reads it). */
const retryAfterMillis = (headers: Headers | undefined, now: number): number => {
  const retryAfter = headers?.get("retry-after")
  if (retryAfter) {
    const seconds = Number(retryAfter)
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
    const at = Date.parse(retryAfter)
    if (!Number.isNaN(at)) return Math.max(0, at - now)
  }
  const reset = Number(headers?.get("x-ratelimit-reset") ?? Number.NaN)
  if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - now)
  return defaultRetryAfterMillis
}

/** No answer within the configured timeout. */
export const squareTimedOut = (operation: string) =>
  new ProviderCallFailed({
    provider: "square",
    kind: "unavailable",
    status: null,
    retryAfterMillis: null,
    message: `Square ${operation} timed out`
  })

/**
 * A failed `square` SDK call as the sync engine's failure kinds. The message carries the HTTP status and Square's
 * first error (`code`, `detail`); never the SDK's own message, which embeds request and response bodies.
 */
export const squareCallFailed = (operation: string, cause: unknown, now: number): ProviderCallFailed => {
  const failed = (
    kind: ProviderFailureKind,
    status: number | null,
    message: string,
    retryAfter: number | null = null
  ) => new ProviderCallFailed({ provider: "square", kind, status, retryAfterMillis: retryAfter, message })
  if (cause instanceof SquareTimeoutError) return squareTimedOut(operation)
  if (!(cause instanceof SquareError) || cause.statusCode === undefined)
    return failed("unavailable", null, `Square ${operation} unreachable`)
  const status = cause.statusCode
  const first = cause.errors[0]
  const reason = first === undefined ? "" : `: ${first.code}${first.detail ? ` ${first.detail.slice(0, 300)}` : ""}`
  const kind = failureKindOf(status)
  return failed(
    kind,
    status,
    `Square ${operation} answered ${status}${reason}`,
    kind === "rate_limited" ? retryAfterMillis(cause.rawResponse?.headers, now) : null
  )
}
