/**
 * `Idempotency-Key` on the API's state-changing requests (POST, PUT, PATCH, DELETE under /api/v1/integrations; not
 * the providers' webhook deliveries, which carry their own event ids). With the header, a request of a tenant (the
 * JWT's) claims method + path + key before it runs, with the sha-256 of its query string and body:
 * - a repeat with the same request gets the first answer again, with `Idempotent-Replayed: true`;
 * - the key with another request is `422 IdempotencyKeyReused`; a repeat while the first still runs `409`;
 * - 5xx answers and refusals before the request ran (400, 401, 403, 413, 429) are not kept: the key can be retried.
 * Keys are kept `API_IDEMPOTENCY_TTL` (default 24 h). A route-level router middleware: it sees the answer as sent,
 * after HttpApi encoded it. Without the header, or without a valid JWT (the API then answers 401), it does nothing.
 */
import { Config, Duration, Effect, Exit, Redacted } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { recordIdempotencyConflict, recordIdempotentReplay } from "../../application/IdempotencyMetrics.ts"
import { providers } from "../../domain/Provider.ts"
import { ApiIdempotency, type IdempotencyScope, type StoredResponse } from "../../ports/ApiIdempotency.ts"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"
import { webhookPath } from "./WebhookReceive.ts"

export const idempotencyHeader = "Idempotency-Key"

const apiPrefix = "/api/v1/integrations/"
const webhookDelivery = new RegExp(`^${webhookPath}/(${providers.join("|")})/?$`)
const stateChanging = new Set(["POST", "PUT", "PATCH", "DELETE"])

/** Printable ASCII, as Stripe accepts: 1 to 255 characters. */
const validKey = /^[\x20-\x7e]{1,255}$/

/** A claim older than this without an answer was abandoned by a process that died; the same request may run. */
const abandonedAfter = Duration.minutes(2)

/** Refusals before the handler ran and answers that may differ next time: never replayed. */
const notKept = new Set([400, 401, 403, 408, 413, 429])

const bearerOf = (header: string | undefined) => {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match === null ? undefined : match[1]
}

const refusal = (status: 400 | 409 | 422 | 503, code: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.jsonUnsafe(
    {
      _tag: { 400: "BadRequest", 409: "Conflict", 422: "UnprocessableEntity", 503: "ServiceUnavailable" }[status],
      code,
      message,
      ...(status === 503 ? {} : { field: idempotencyHeader })
    },
    { status, headers }
  )

const fingerprintOf = (search: string, body: ArrayBuffer) =>
  Effect.promise(async () => {
    const query = new TextEncoder().encode(`${search}\n`)
    const bytes = new Uint8Array(query.length + body.byteLength)
    bytes.set(query)
    bytes.set(new Uint8Array(body), query.length)
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))
    return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
  })

/** The answer as it can be stored, or undefined when it is not kept (streams, 5xx, early refusals). */
const storable = (response: HttpServerResponse.HttpServerResponse): StoredResponse | undefined => {
  if (response.status >= 500 || notKept.has(response.status)) return undefined
  const contentType = response.headers["content-type"] ?? null
  if (response.body._tag === "Empty") return { status: response.status, contentType, body: new Uint8Array() }
  if (response.body._tag === "Uint8Array")
    return { status: response.status, contentType: contentType ?? response.body.contentType, body: response.body.body }
  return undefined
}

const replay = (stored: StoredResponse) =>
  HttpServerResponse.uint8Array(stored.body, {
    status: stored.status,
    headers: { "idempotent-replayed": "true" },
    ...(stored.contentType === null ? {} : { contentType: stored.contentType })
  })

export const IdempotencyKeys = HttpRouter.middleware(
  Effect.gen(function* () {
    const store = yield* ApiIdempotency
    const verifier = yield* TokenVerifier
    const ttl = yield* Config.Duration("API_IDEMPOTENCY_TTL").pipe(Config.withDefault(Duration.hours(24)))
    const options = { ttl, lease: abandonedAfter }

    return (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const key = request.headers["idempotency-key"]
        if (key === undefined || !stateChanging.has(request.method)) return yield* httpEffect
        const url = new URL(request.url, "http://localhost")
        if (!url.pathname.startsWith(apiPrefix) || webhookDelivery.test(url.pathname)) return yield* httpEffect
        const bearer = bearerOf(request.headers.authorization)
        const principal =
          bearer === undefined ? undefined : yield* Effect.option(verifier.verify(Redacted.make(bearer)))
        // Who may call is the API's own answer (401), whatever the key.
        if (principal === undefined || principal._tag === "None") return yield* httpEffect
        if (!validKey.test(key)) {
          return refusal(
            400,
            "InvalidIdempotencyKey",
            `${idempotencyHeader} must be 1 to 255 printable ASCII characters`
          )
        }

        const body = yield* Effect.orDie(request.arrayBuffer)
        const fingerprint = yield* fingerprintOf(url.search, body)
        const scope: IdempotencyScope = {
          tenantId: principal.value.tenantId,
          method: request.method,
          path: url.pathname,
          key
        }
        yield* Effect.annotateCurrentSpan({ "http.idempotency_key": key })
        const claim = yield* Effect.result(store.claim(scope, fingerprint, options))
        if (claim._tag === "Failure") {
          yield* Effect.logWarning("idempotency keys unavailable").pipe(
            Effect.annotateLogs({ "error.message": claim.failure.message })
          )
          return refusal(503, "StoreUnavailable", "idempotency keys cannot be checked now; retry with the same key")
        }
        switch (claim.success._tag) {
          case "Completed":
            yield* recordIdempotentReplay
            return replay(claim.success.response)
          case "Mismatch":
            yield* recordIdempotencyConflict("key_reused")
            return refusal(
              422,
              "IdempotencyKeyReused",
              `this ${idempotencyHeader} was used with another request; send a new key for a new request`
            )
          case "InFlight":
            yield* recordIdempotencyConflict("in_flight")
            return refusal(
              409,
              "IdempotencyKeyInFlight",
              `a request with this ${idempotencyHeader} is still running; retry with the same key to get its answer`,
              { "retry-after": "1" }
            )
          case "Claimed": {
            const token = claim.success.token
            return yield* httpEffect.pipe(
              Effect.onExit((exit) => {
                const kept = Exit.isSuccess(exit) ? storable(exit.value) : undefined
                return (kept === undefined ? store.release(scope, token) : store.complete(scope, token, kept)).pipe(
                  Effect.catch((error) =>
                    Effect.logWarning("idempotency key not settled").pipe(
                      Effect.annotateLogs({ "error.message": error.message })
                    )
                  )
                )
              })
            )
          }
        }
      })
  })
).layer
