import type { Effect } from "effect"
import { Context } from "effect"
import type { EntityType } from "../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { TenantId } from "../domain/Ids.ts"
import type { TemplateNameTaken } from "../domain/mapping/MappingErrors.ts"
import type { Direction, Rule } from "../domain/mapping/Rule.ts"
import type { MappingTemplate } from "../domain/mapping/SavedMapping.ts"
import type { Provider } from "../domain/Provider.ts"

export interface NewTenantTemplate {
  readonly tenantId: TenantId
  readonly provider: Provider
  readonly entityType: EntityType
  readonly direction: Direction
  readonly name: string
  readonly rules: ReadonlyArray<Rule>
  readonly createdBy: string
}

/**
 * Mapping templates: the built-in ones (loaded from the reviewed data files) and
 * each tenant's own, which no other tenant sees. Applying one counts a use.
 */
export class MappingTemplates extends Context.Service<
  MappingTemplates,
  {
    /** Built-in templates of the provider, then the tenant's own. */
    readonly list: (
      tenantId: TenantId,
      provider: Provider
    ) => Effect.Effect<ReadonlyArray<MappingTemplate>, StoreUnavailable>
    /** By id: `builtin:<name>` is one template per entity × direction of the provider, `tenant:<uuid>` one; none: empty. */
    readonly find: (
      tenantId: TenantId,
      provider: Provider,
      id: string
    ) => Effect.Effect<ReadonlyArray<MappingTemplate>, StoreUnavailable>
    readonly save: (template: NewTenantTemplate) => Effect.Effect<MappingTemplate, TemplateNameTaken | StoreUnavailable>
    readonly countUse: (tenantId: TenantId, template: MappingTemplate) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/MappingTemplates") {}
