/**
 * Request bodies are bounded: `HTTP_MAX_BODY` (default 1 MiB) for every route, webhooks their own 4 MiB. A declared
 * length past the limit is refused before any byte is read; a chunked body is read only up to the limit. The
 * checks run after authentication (see AuthorizationLive), so an unauthenticated or under-privileged caller's body
 * is never read at all, and every refusal of a request that carries a body closes the connection instead of
 * draining what is left of it.
 */
import { ByteSize, Config, Effect } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PayloadTooLarge } from "./ApiErrors.ts"

export const defaultMaxBody = ByteSize.mebibytes(1)

/** QuickBooks CloudEvents batches reach ~1 MB; anything much larger is not a provider's delivery. */
export const webhookMaxBody = ByteSize.mebibytes(4)

const declaredLength = (request: HttpServerRequest.HttpServerRequest) => {
  const length = Number(request.headers["content-length"])
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined
}

const carriesBody = (request: HttpServerRequest.HttpServerRequest) =>
  (declaredLength(request) ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined

export const payloadTooLarge = (limit: ByteSize.ByteSize, what = "request bodies") =>
  new PayloadTooLarge({
    code: "PayloadTooLarge",
    message: `${what} are limited to ${ByteSize.toNumberUnsafe(limit)} bytes`,
    field: "body"
  })

export const payloadTooLargeResponse = (error: PayloadTooLarge) =>
  HttpServerResponse.jsonUnsafe(
    { _tag: error._tag, code: error.code, message: error.message, field: error.field },
    { status: 413, headers: { connection: "close" } }
  )

/** The body reader stopped at the limit (`MaxBodySize`). */
export const isBodyTooLarge = (error: unknown) =>
  HttpServerError.isHttpServerError(error) &&
  error.reason._tag === "RequestParseError" &&
  error.reason.reason === "BodyTooLarge"

/** Refuses a request whose declared length passes the current limit, before any of its body is read. */
export const refuseDeclaredOversize = Effect.gen(function* () {
  const limit = yield* HttpIncomingMessage.MaxBodySize
  const length = declaredLength(yield* HttpServerRequest.HttpServerRequest)
  if (limit !== undefined && length !== undefined && length > ByteSize.toNumberUnsafe(limit)) {
    return yield* payloadTooLarge(limit)
  }
})

/** The body reader stopping at the limit inside a handler, as the 413 it stands for rather than a defect to report. */
export const overflowAsPayloadTooLarge = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchDefect(effect, (defect) =>
    isBodyTooLarge(defect)
      ? Effect.gen(function* () {
          return yield* payloadTooLarge((yield* HttpIncomingMessage.MaxBodySize) ?? defaultMaxBody)
        })
      : Effect.die(defect)
  )

/** Every route: the limit for body readers, 413 when a reader passes it, and no draining of unread bodies. */
export const BodyLimit = HttpRouter.middleware(
  Effect.gen(function* () {
    const limit = yield* Config.ByteSize("HTTP_MAX_BODY").pipe(Config.withDefault(defaultMaxBody))
    const tooLarge = payloadTooLargeResponse(payloadTooLarge(limit))
    return (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const response = yield* httpEffect.pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, limit),
          Effect.catchDefect((defect) => (isBodyTooLarge(defect) ? Effect.succeed(tooLarge) : Effect.die(defect))),
          Effect.catchIf(isBodyTooLarge, () => Effect.succeed(tooLarge))
        )
        // Node would otherwise read (and discard) the rest of a refused body to keep the connection alive.
        return response.status >= 400 && carriesBody(request)
          ? HttpServerResponse.setHeader(response, "connection", "close")
          : response
      })
  }),
  { global: true }
)
