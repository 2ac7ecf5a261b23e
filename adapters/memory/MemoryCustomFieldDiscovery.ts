import { Context, Effect, Layer } from "effect"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { FieldCatalog } from "../../domain/mapping/FieldCatalog.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { CustomFieldDiscovery } from "../../ports/CustomFieldDiscovery.ts"

/** Sets what the in-memory provider accounts define, per provider and entity type. */
export class MemoryCustomFieldsControl extends Context.Service<
  MemoryCustomFieldsControl,
  {
    readonly define: (provider: OAuthProviderName, entityType: EntityType, fields: FieldCatalog) => Effect.Effect<void>
  }
>()("integration-service/adapters/memory/MemoryCustomFieldsControl") {}

/** Custom fields held in memory: none until a test defines some. */
export const MemoryCustomFieldDiscovery = {
  layer: Layer.effectContext(
    Effect.sync(() => {
      const defined = new Map<string, FieldCatalog>()
      return Context.make(
        CustomFieldDiscovery,
        CustomFieldDiscovery.of({
          discover: (r) => Effect.sync(() => defined.get(`${r.provider}|${r.entityType}`) ?? [])
        })
      ).pipe(
        Context.add(
          MemoryCustomFieldsControl,
          MemoryCustomFieldsControl.of({
            define: (provider, entityType, fields) =>
              Effect.sync(() => {
                defined.set(`${provider}|${entityType}`, fields)
              })
          })
        )
      )
    })
  )
} as const
