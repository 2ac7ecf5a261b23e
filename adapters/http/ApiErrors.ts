import { ErrorReporter, Schema } from "effect"
import type * as DomainErrors from "../../domain/Errors.ts"
import { MappingProblem } from "../../domain/mapping/Rule.ts"

/**
 * The API's error bodies: `_tag` is the HTTP class, `code` the stable reason,
 * `message` says what is wrong and `field` names the offending input.
 */
const body = { code: Schema.String, message: Schema.String, field: Schema.optionalKey(Schema.String) }

// A 4xx answers the caller's input; it is no failure of the service, so error reporters skip it (as Effect's own
// HttpApiError classes do). A 5xx is reported at error with what it stands for (`ServerErrorLog`).
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", body, { httpApiStatus: 400 }) {
  override readonly [ErrorReporter.ignore] = true
}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", body, { httpApiStatus: 401 }) {
  override readonly [ErrorReporter.ignore] = true
}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", body, { httpApiStatus: 403 }) {
  override readonly [ErrorReporter.ignore] = true
}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", body, { httpApiStatus: 404 }) {
  override readonly [ErrorReporter.ignore] = true
}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", body, { httpApiStatus: 409 }) {
  override readonly [ErrorReporter.ignore] = true
}
/**
 * `problems`: every problem of a mapping's rules, each with its rule index and field; `records`: every problem of a
 * platform batch, each with its record index and field.
 */
export class UnprocessableEntity extends Schema.TaggedError<UnprocessableEntity>()(
  "UnprocessableEntity",
  {
    ...body,
    problems: Schema.optionalKey(Schema.Array(MappingProblem)),
    records: Schema.optionalKey(
      Schema.Array(Schema.Struct({ index: Schema.Int, field: Schema.String, message: Schema.String }))
    )
  },
  { httpApiStatus: 422 }
) {
  override readonly [ErrorReporter.ignore] = true
}
/** A body longer than the route accepts (`HTTP_MAX_BODY`, webhooks 4 MiB); answered before the rest is read. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", body, {
  httpApiStatus: 413
}) {
  override readonly [ErrorReporter.ignore] = true
}
/** The tenant used up its share of the API; `Retry-After` and the `RateLimit-*` headers say when to come back. */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", body, {
  httpApiStatus: 429
}) {
  override readonly [ErrorReporter.ignore] = true
}
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", body, {
  httpApiStatus: 500
}) {
  override readonly [ErrorReporter.severity] = "Error"
}
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", body, {
  httpApiStatus: 503
}) {
  override readonly [ErrorReporter.severity] = "Error"
}

/**
 * The failure a 5xx stands for, kept on it for the error log only: the body says less on purpose, and encoding
 * writes the declared fields alone. Domain error messages never carry a secret.
 */
const standingFor = <E extends InternalError | ServiceUnavailable>(
  error: E,
  cause: { readonly _tag: string; readonly message: string }
): E =>
  Object.defineProperty(error, ErrorReporter.attributes, {
    value: { "error.cause": `${cause._tag}: ${cause.message}` }
  })

/** Every error an authenticated endpoint may answer with. */
export const ApiErrors = [
  BadRequest,
  Unauthorized,
  Forbidden,
  NotFound,
  Conflict,
  UnprocessableEntity,
  InternalError,
  ServiceUnavailable
] as const

export type DomainError =
  | DomainErrors.ConnectionNotFound
  | DomainErrors.AlreadyConnected
  | DomainErrors.Forbidden
  | DomainErrors.InvalidCredentials
  | DomainErrors.Unprocessable
  | DomainErrors.ProviderUnavailable
  | DomainErrors.SecretUnreadable
  | DomainErrors.KeyManagementUnavailable
  | DomainErrors.StoreUnavailable

/** The one place domain errors become HTTP statuses. */
export const toHttpError = (error: DomainError) => {
  switch (error._tag) {
    case "ConnectionNotFound":
      return new NotFound({
        code: error._tag,
        message: `venue ${error.venueId} has no ${error.provider} connection`,
        field: "provider"
      })
    case "AlreadyConnected":
      return new Conflict({
        code: error._tag,
        message: `venue ${error.venueId} is already connected to ${error.provider}; disconnect first or replace the key with POST /${error.provider}/api-key`,
        field: "provider"
      })
    case "Forbidden":
      return new Forbidden({ code: error._tag, message: error.message, field: "venueId" })
    case "InvalidCredentials":
      return new UnprocessableEntity({ code: error._tag, message: error.message, field: error.field })
    case "Unprocessable":
      return new UnprocessableEntity({ code: error._tag, message: error.message, field: error.field })
    case "ProviderUnavailable":
      return standingFor(
        new ServiceUnavailable({ code: error._tag, message: `${error.provider} is unavailable: ${error.message}` }),
        error
      )
    case "SecretUnreadable":
      return standingFor(
        new InternalError({ code: error._tag, message: "a stored credential could not be opened" }),
        error
      )
    case "KeyManagementUnavailable":
      return standingFor(new ServiceUnavailable({ code: error._tag, message: "key management is unavailable" }), error)
    case "StoreUnavailable":
      return standingFor(new ServiceUnavailable({ code: error._tag, message: "the database is unavailable" }), error)
  }
}
