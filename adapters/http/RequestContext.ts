import { Effect, SchemaIssue } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiError } from "effect/http-api"

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/

const fieldOf = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>) =>
  path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/** The empty 400 HttpApi sends for undecodable input, made into our error body naming each field. */
const badRequest = (error: HttpApiError.HttpApiSchemaError) => {
  const issues = formatIssues(error.cause.issue).issues.map((issue) => ({
    field: fieldOf(issue.path ?? []) || error.kind.toLowerCase(),
    message: issue.message
  }))
  const first = issues[0] ?? { field: error.kind.toLowerCase(), message: "invalid request" }
  return HttpServerResponse.jsonUnsafe(
    {
      _tag: "BadRequest",
      code: `Invalid${error.kind}`,
      message: issues.map((i) => `${i.field}: ${i.message}`).join("; "),
      field: first.field,
      issues
    },
    { status: 400 }
  )
}

const notFound = (request: HttpServerRequest.HttpServerRequest) =>
  HttpServerResponse.jsonUnsafe(
    { _tag: "NotFound", code: "RouteNotFound", message: `no route for ${request.method} ${request.url}` },
    { status: 404 }
  )

/**
 * Every request: an `x-request-id` (the caller's, when well formed, or a new
 * one) echoed on the response and attached to logs and the span; schema
 * failures and unknown routes answered with JSON bodies.
 */
export const RequestContext = HttpRouter.middleware(
  (httpEffect) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const incoming = request.headers["x-request-id"]
      const requestId = incoming !== undefined && requestIdPattern.test(incoming) ? incoming : crypto.randomUUID()
      yield* Effect.annotateCurrentSpan("http.request_id", requestId)
      const response = yield* httpEffect.pipe(
        Effect.catchDefect((defect) =>
          HttpApiError.HttpApiSchemaError.is(defect) && defect.kind !== "ResponseHeaders" && defect.kind !== "Body"
            ? Effect.succeed(badRequest(defect))
            : Effect.die(defect)
        ),
        Effect.catchIf(
          (error) => error instanceof HttpServerError.HttpServerError && error.reason._tag === "RouteNotFound",
          () => Effect.succeed(notFound(request))
        ),
        Effect.annotateLogs({ requestId })
      )
      return HttpServerResponse.setHeader(response, "x-request-id", requestId)
    }),
  { global: true }
)
