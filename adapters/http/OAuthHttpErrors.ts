import type { TokenError } from "../../application/TokenVault.ts"
import type { OAuthGrantRejected, OAuthNotConfigured } from "../../domain/OAuth.ts"
import type { IncompleteOAuthCallback, InvalidOAuthState } from "../../domain/OAuthErrors.ts"
import { BadRequest, Conflict, type DomainError, toHttpError, UnprocessableEntity } from "./ApiErrors.ts"

export type OAuthError =
  | DomainError
  | TokenError
  | OAuthNotConfigured
  | OAuthGrantRejected
  | InvalidOAuthState
  | IncompleteOAuthCallback

/** Domain errors of the OAuth flows as HTTP errors; the rest as everywhere else (`toHttpError`). */
export const toOAuthHttpError = (error: OAuthError) => {
  switch (error._tag) {
    case "OAuthNotConfigured":
      return new UnprocessableEntity({
        code: error._tag,
        message: `${error.provider} OAuth is not configured: set ${error.setting}`,
        field: error.setting
      })
    case "InvalidOAuthState":
      return new BadRequest({
        code: error._tag,
        message: "the state is unknown, expired, already used or for another provider; start the connection again",
        field: "state"
      })
    case "IncompleteOAuthCallback":
      return new BadRequest({
        code: error._tag,
        message: `the ${error.provider} redirect carries no ${error.missing}; start the connection again`,
        field: error.missing
      })
    case "OAuthGrantRejected":
      return new BadRequest({ code: error._tag, message: error.message, field: "code" })
    case "ReauthorizationRequired":
      return new Conflict({
        code: error._tag,
        message: `${error.provider} needs the venue to authorize again (${error.reason}); use POST /connect/${error.provider}`,
        field: "provider"
      })
    case "TokensMissing":
      return new Conflict({ code: error._tag, message: "the connection holds no tokens; connect it again" })
    default:
      return toHttpError(error)
  }
}
