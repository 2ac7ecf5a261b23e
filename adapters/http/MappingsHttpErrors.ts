import type {
  InvalidMapping,
  MappingNotFound,
  MappingVersionConflict,
  TemplateNameTaken,
  TemplateNotFound
} from "../../domain/mapping/MappingErrors.ts"
import { Conflict, NotFound, UnprocessableEntity } from "./ApiErrors.ts"
import { type OAuthError, toOAuthHttpError } from "./OAuthHttpErrors.ts"

export type MappingError =
  | OAuthError
  | InvalidMapping
  | MappingNotFound
  | MappingVersionConflict
  | TemplateNotFound
  | TemplateNameTaken

/** Mapping errors as HTTP errors, each naming the input at fault; token and connection errors as everywhere else. */
export const toMappingHttpError = (error: MappingError) => {
  switch (error._tag) {
    case "InvalidMapping": {
      const first = error.problems[0]
      return new UnprocessableEntity({
        code: error._tag,
        message: error.problems.map((p) => `${p.rule === null ? "rules" : `rule ${p.rule}`}: ${p.message}`).join("; "),
        field: first?.rule === null || first === undefined ? "rules" : `rules[${first.rule}]`,
        problems: error.problems
      })
    }
    case "MappingNotFound":
      return new NotFound({
        code: error._tag,
        message:
          error.version === null
            ? `venue ${error.venueId} has no saved ${error.provider} ${error.entityType} ${error.direction} mapping`
            : `the ${error.provider} ${error.entityType} ${error.direction} mapping has no version ${error.version}`,
        field: error.version === null ? "entityType" : "version"
      })
    case "MappingVersionConflict":
      return new Conflict({
        code: error._tag,
        message: `the mapping is at version ${error.currentVersion}, not ${error.expectedVersion}: read it again and retry`,
        field: "expectedVersion"
      })
    case "TemplateNotFound":
      return new NotFound({ code: error._tag, message: error.message, field: "template" })
    case "TemplateNameTaken":
      return new Conflict({ code: error._tag, message: `a template named ${error.name} already exists`, field: "name" })
    default:
      return toOAuthHttpError(error)
  }
}
