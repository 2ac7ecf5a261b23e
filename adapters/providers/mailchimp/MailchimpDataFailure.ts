import { failureKindOf, ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"

/** Mailchimp's `application/problem+json` error document (the fields a message uses). */
interface Problem {
  readonly title?: unknown
  readonly detail?: unknown
}

/** superagent's rejection (the marketing SDK's HTTP client): `status` and `response` when Mailchimp answered. */
interface SuperagentFailure {
  readonly status?: unknown
  readonly timeout?: unknown
  readonly code?: unknown
  readonly response?: { readonly headers?: Record<string, unknown>; readonly body?: Problem | null }
}

/** Mailchimp sends no Retry-After on its 429s (PROVIDERS.md §1d): wait a second, as a connection frees up quickly. */
const defaultRetryAfterMillis = 1000

/** `Retry-After` as seconds or an HTTP date (a proxy in front may add one); null when absent or unreadable. */
const retryAfterOf = (headers: Record<string, unknown> | undefined, nowMillis: number): number | null => {
  const value = headers?.["retry-after"]
  if (typeof value !== "string" || value.trim() === "") return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - nowMillis)
}

/** Mailchimp's problem document in a line ("Resource Not Found: The requested resource…"), bounded; no token is in it. */
export const problemReason = (body: Problem | null | undefined) => {
  const words = [body?.title, body?.detail].filter((w): w is string => typeof w === "string" && w.trim() !== "")
  const line = words.join(": ").replace(/\s+/g, " ").trim()
  return line.length > 300 ? `${line.slice(0, 299)}…` : line
}

/** A failed marketing SDK call as the port's failure: the status decides the kind, the problem document the message. */
export const mailchimpCallFailed =
  (call: string, timeoutMs: number, nowMillis: () => number) =>
  (cause: unknown): ProviderCallFailed => {
    const failure = (typeof cause === "object" && cause !== null ? cause : {}) as SuperagentFailure
    if (typeof failure.status !== "number") {
      const message =
        failure.timeout !== undefined
          ? `Mailchimp ${call} did not answer within ${timeoutMs} ms`
          : `Mailchimp ${call} unreachable${typeof failure.code === "string" ? ` (${failure.code})` : ""}`
      return new ProviderCallFailed({
        provider: "mailchimp",
        kind: "unavailable",
        status: null,
        retryAfterMillis: null,
        message
      })
    }
    const status = failure.status
    const kind = failureKindOf(status)
    const retryAfter = retryAfterOf(failure.response?.headers, nowMillis())
    const reason = problemReason(failure.response?.body)
    return new ProviderCallFailed({
      provider: "mailchimp",
      kind,
      status,
      retryAfterMillis: kind === "rate_limited" ? (retryAfter ?? defaultRetryAfterMillis) : retryAfter,
      message: `Mailchimp ${call} answered ${status}${reason === "" ? "" : ` ${reason}`}`
    })
  }
