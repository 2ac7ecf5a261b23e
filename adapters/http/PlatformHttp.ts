import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import type { InvalidPlatformRecords, PlatformRecordNotFound } from "../../application/platform/PlatformData.ts"
import { PlatformData } from "../../application/platform/PlatformData.ts"
import { Api } from "./Api.ts"
import { type DomainError, NotFound, toHttpError, UnprocessableEntity } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

const toPlatformHttpError = (error: DomainError | InvalidPlatformRecords | PlatformRecordNotFound) => {
  switch (error._tag) {
    case "InvalidPlatformRecords":
      return new UnprocessableEntity({
        code: error._tag,
        message: error.problems.map((p) => `${p.field}: ${p.message}`).join("; "),
        field: error.problems[0]?.field ?? "records",
        records: error.problems
      })
    case "PlatformRecordNotFound":
      return new NotFound({
        code: error._tag,
        message: `no ${error.entityType} ${error.id} at this venue`,
        field: "id"
      })
    default:
      return toHttpError(error)
  }
}

export const PlatformHttp = HttpApiBuilder.group(
  Api,
  "platform",
  Effect.fn(function* (handlers) {
    const platform = yield* PlatformData
    return handlers
      .handle("upsert", ({ params, payload }) =>
        CurrentPrincipal.use((p) => platform.upsert(p, payload.venueId, params.entityType, payload.records)).pipe(
          Effect.mapError(toPlatformHttpError)
        )
      )
      .handle("remove", ({ params, query }) =>
        CurrentPrincipal.use((p) => platform.remove(p, query.venueId, params.entityType, params.id)).pipe(
          Effect.as({ deleted: true }),
          Effect.mapError(toPlatformHttpError)
        )
      )
  })
)
