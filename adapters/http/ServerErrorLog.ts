import { Context, Effect, ErrorReporter } from "effect"
import { HttpServerRequest } from "effect/http"

/**
 * Every failure the HTTP server reports — each 5xx the API answers and each defect in a handler — as one error line
 * with what it stands for (`error.cause`, see `ApiErrors`) and the request's method and path (never its query,
 * which may carry OAuth codes). 4xx answers are not reported (`ErrorReporter.ignore`). The line is written through
 * the failing request's own context, so it carries its request id and goes to the configured loggers.
 */
const reporter = ErrorReporter.make(({ cause, attributes, fiber }) => {
  const request = Context.getOption(fiber.context, HttpServerRequest.HttpServerRequest)
  const where =
    request._tag === "Some"
      ? { "http.method": request.value.method, "http.url": request.value.url.split("?", 1)[0] }
      : {}
  Effect.runForkWith(fiber.context)(
    Effect.logError("request failed", cause).pipe(Effect.annotateLogs({ ...where, ...attributes }))
  )
})

export const ServerErrorLog = {
  layer: ErrorReporter.layer([reporter], { mergeWithExisting: true })
} as const
