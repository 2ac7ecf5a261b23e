import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Mappings } from "../../application/mappings/Mappings.ts"
import { Api } from "./Api.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { toMappingHttpError } from "./MappingsHttpErrors.ts"

export const MappingsHttp = HttpApiBuilder.group(
  Api,
  "mappings",
  Effect.fn(function* (handlers) {
    const mappings = yield* Mappings
    return handlers
      .handle("fields", ({ params, query }) =>
        CurrentPrincipal.use((p) =>
          mappings.fields(p, query.venueId, params.provider, query.entityType, query.direction)
        ).pipe(Effect.mapError(toMappingHttpError))
      )
      .handle("get", ({ params, query }) =>
        CurrentPrincipal.use((p) =>
          mappings.get(
            p,
            {
              venueId: query.venueId,
              provider: params.provider,
              entityType: query.entityType,
              direction: query.direction
            },
            query.version
          )
        ).pipe(Effect.mapError(toMappingHttpError))
      )
      .handle("put", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          mappings.put(
            p,
            {
              venueId: payload.venueId,
              provider: params.provider,
              entityType: payload.entityType,
              direction: payload.direction
            },
            payload.rules,
            payload.expectedVersion
          )
        ).pipe(Effect.mapError(toMappingHttpError))
      )
      .handle("test", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          mappings.test(
            p,
            {
              venueId: payload.venueId,
              provider: params.provider,
              entityType: payload.entityType,
              direction: payload.direction
            },
            payload.rules,
            payload.samples ?? []
          )
        ).pipe(
          Effect.map((results) => ({ results })),
          Effect.mapError(toMappingHttpError)
        )
      )
      .handle("applyTemplate", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          mappings.applyTemplate(p, payload.venueId, params.provider, payload.template, payload.entityType)
        ).pipe(
          Effect.map((saved) => ({ mappings: saved })),
          Effect.mapError(toMappingHttpError)
        )
      )
      .handle("reset", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          mappings.reset(p, payload.venueId, params.provider, payload.entityType, payload.direction)
        ).pipe(
          Effect.map((saved) => ({ mappings: saved })),
          Effect.mapError(toMappingHttpError)
        )
      )
      .handle("heal", ({ params, payload }) =>
        CurrentPrincipal.use((p) => mappings.heal(p, payload.venueId, params.provider, payload.dryRun ?? false)).pipe(
          Effect.mapError(toMappingHttpError)
        )
      )
      .handle("saveTemplate", ({ params, payload }) =>
        CurrentPrincipal.use((p) =>
          mappings.saveTemplate(
            p,
            {
              venueId: payload.venueId,
              provider: params.provider,
              entityType: payload.entityType,
              direction: payload.direction
            },
            payload.name
          )
        ).pipe(Effect.mapError(toMappingHttpError))
      )
      .handle("templates", ({ params }) =>
        CurrentPrincipal.use((p) => mappings.listTemplates(p, params.provider)).pipe(
          Effect.map((templates) => ({ templates })),
          Effect.mapError(toMappingHttpError)
        )
      )
  })
)
