import { Clock, Config, Duration, Effect, Redacted } from "effect"
import {
  type DataCredential,
  failureKindOf,
  ProviderCallFailed,
  type ProviderFailureKind
} from "../../../ports/sync/ProviderData.ts"
import { quickBooksLocation } from "../OAuthProviders.ts"

/** One answer of the accounting API, before it is judged. */
export interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly text: string
}

/** Intuit's rule for a 429 without Retry-After: "wait 60 seconds before retrying". */
const throttleWaitMs = 60_000

export const failed = (
  kind: ProviderFailureKind,
  status: number | null,
  message: string,
  retryAfterMillis: number | null = null
) => new ProviderCallFailed({ provider: "quickbooks", kind, status, retryAfterMillis, message })

/** Retry-After in seconds or as an HTTP date; Intuit usually sends none and asks for 60 s. */
const retryAfterMillis = (header: string | null, now: number) => {
  if (header === null) return throttleWaitMs
  const seconds = Number(header)
  if (header.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? throttleWaitMs : Math.max(0, at - now)
}

interface FaultError {
  readonly Message?: unknown
  readonly Detail?: unknown
  readonly code?: unknown
  readonly message?: unknown
  readonly detail?: unknown
}

/** The first error of an Intuit fault, with its code; null when the body holds none. */
export interface Fault {
  readonly code: string | null
  /** Message, Detail and code joined (a 401's Detail, which can quote the token, left out). */
  readonly reason: string | null
}

/**
 * The first error of an Intuit fault: JSON `Fault.Error[]` (or the lower-camel `fault.error[]` some 401s carry), or
 * the XML ThrottleExceeded body 429s come with.
 */
export const faultOf = (text: string, status: number): Fault | null => {
  let error: FaultError | undefined
  try {
    const body = JSON.parse(text) as {
      Fault?: { Error?: ReadonlyArray<FaultError> }
      fault?: { error?: ReadonlyArray<FaultError> }
    }
    error = body.Fault?.Error?.[0] ?? body.fault?.error?.[0]
  } catch {
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1]
    const detail = /<Detail>([^<]*)<\/Detail>/.exec(text)?.[1]
    const code = /<Error code="([^"]*)"/.exec(text)?.[1]
    error = { Message: message, Detail: detail, code }
  }
  if (error === undefined) return null
  const message = error.Message ?? error.message
  const detail = status === 401 ? undefined : (error.Detail ?? error.detail)
  const code = error.code === undefined || error.code === null ? null : String(error.code)
  const parts = [message, detail, code === null ? undefined : `code ${code}`].filter(
    (p): p is string => typeof p === "string" && p.trim() !== ""
  )
  return { code, reason: parts.length === 0 ? null : parts.join("; ").slice(0, 500) }
}

/** The reason of an answer's fault, the token never in it. */
export const reasonOf = (answer: Answer, token: string): string =>
  (faultOf(answer.text, answer.status)?.reason ?? "no reason given").replaceAll(token, "[token]")

/** A 2xx JSON body without a Fault is data; anything else fails with its kind and Intuit's reason. */
export const bodyOf = (
  answer: Answer,
  path: string,
  token: string,
  now: number
): Effect.Effect<Record<string, unknown>, ProviderCallFailed> => {
  if (answer.status < 200 || answer.status >= 300) {
    const kind = failureKindOf(answer.status)
    return Effect.fail(
      failed(
        kind,
        answer.status,
        `QuickBooks ${path} answered ${answer.status}: ${reasonOf(answer, token)}`,
        kind === "rate_limited" ? retryAfterMillis(answer.retryAfter, now) : null
      )
    )
  }
  let body: unknown
  try {
    body = JSON.parse(answer.text)
  } catch {
    return Effect.fail(failed("unavailable", answer.status, `QuickBooks ${path} answered no JSON`))
  }
  // 200 OK can still carry a Fault instead of the data.
  if (typeof body !== "object" || body === null || "Fault" in body)
    return Effect.fail(
      failed("rejected", answer.status, `QuickBooks ${path} answered a fault: ${reasonOf(answer, token)}`)
    )
  return Effect.succeed(body as Record<string, unknown>)
}

export interface QuickBooksRequest {
  readonly method: "GET" | "POST"
  /** Under `/v3/company/{realm}/`: `query`, `customer`, `salesreceipt/42`. */
  readonly path: string
  /** Query parameters besides `minorversion`, already encoded. */
  readonly query: string
  readonly body?: unknown
}

/**
 * The accounting API's wire, shared by the reader and the writer: a Bearer request with `minorversion=75` under the
 * configured base (QUICKBOOKS_BASE_URL), PROVIDER_TIMEOUT bounding each call. Plain `fetch`, as QuickBooksData
 * explains. `send` answers any HTTP status; an unreachable host or a timeout is `unavailable`.
 */
export const makeQuickBooksHttp = Effect.gen(function* () {
  const { apiBaseUrl } = yield* quickBooksLocation
  const timeout = yield* Config.Duration("PROVIDER_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))

  const send = (credential: DataCredential, realm: string, request: QuickBooksRequest) =>
    Effect.tryPromise({
      try: async (signal): Promise<Answer> => {
        const base = new URL(`/v3/company/${encodeURIComponent(realm)}/${request.path}`, apiBaseUrl)
        const query = request.query === "" ? "" : `${request.query}&`
        const response = await fetch(`${base}?${query}minorversion=75`, {
          method: request.method,
          headers: {
            authorization: `Bearer ${Redacted.value(credential.token)}`,
            accept: "application/json",
            ...(request.body === undefined ? {} : { "content-type": "application/json" })
          },
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
          signal
        })
        return { status: response.status, retryAfter: response.headers.get("retry-after"), text: await response.text() }
      },
      catch: () => failed("unavailable", null, `QuickBooks ${request.path} unreachable`)
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(failed("unavailable", null, `QuickBooks ${request.path} timed out`))
      })
    )

  /** `send`, then `bodyOf`: the data of a 2xx answer, or the call's failure. */
  const data = (credential: DataCredential, realm: string, request: QuickBooksRequest) =>
    send(credential, realm, request).pipe(
      Effect.flatMap((answer) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => bodyOf(answer, request.path, Redacted.value(credential.token), now))
        )
      )
    )

  return { send, data }
})
