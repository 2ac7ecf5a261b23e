import { Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { builtInTemplates } from "../../domain/mapping/DefaultTemplates.ts"
import { TemplateNameTaken } from "../../domain/mapping/MappingErrors.ts"
import { MappingTemplate } from "../../domain/mapping/SavedMapping.ts"
import type { Provider } from "../../domain/Provider.ts"
import { MappingTemplates, type NewTenantTemplate } from "../../ports/MappingTemplates.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError | Schema.SchemaError) =>
  new StoreUnavailable({ message: `database: ${error.message}` })

const decodeAll = Schema.decodeUnknownEffect(Schema.Array(MappingTemplate))

const tenantUuid = /^tenant:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

/**
 * Built-in templates in `field_mapping_templates` (loaded from the data files when the layer is built: rules
 * replaced, usage counts kept), a tenant's own in `tenant_mapping_templates` under RLS.
 */
export const PostgresMappingTemplates = {
  layer: Layer.effect(
    MappingTemplates,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`SELECT app_load_mapping_templates(${JSON.stringify(builtInTemplates)}::jsonb)`.pipe(
        Effect.withSpan("PostgresMappingTemplates.loadBuiltIns"),
        Effect.orDie
      )
      const builtIn = sql`SELECT 'builtin:' || name AS id, 'builtin' AS kind, provider, entity_type, direction, name,
          venue_type, rules, usage_count::float8 AS usage_count FROM field_mapping_templates`
      const tenants = sql`SELECT 'tenant:' || id AS id, 'tenant' AS kind, provider, entity_type, direction, name,
          NULL AS venue_type, rules, usage_count::float8 AS usage_count FROM tenant_mapping_templates`

      const list = Effect.fn("PostgresMappingTemplates.list")(function* (tenantId: TenantId, provider: Provider) {
        return yield* sql`${builtIn} WHERE provider = ${provider}
          UNION ALL ${tenants} WHERE provider = ${provider}
          ORDER BY kind, entity_type, direction, name`.pipe(
          Effect.flatMap(decodeAll),
          withTenant(sql, tenantId),
          Effect.mapError(unavailable)
        )
      })

      const find = Effect.fn("PostgresMappingTemplates.find")(function* (
        tenantId: TenantId,
        provider: Provider,
        id: string
      ) {
        const own = tenantUuid.exec(id)
        const rows = id.startsWith("builtin:")
          ? sql`${builtIn} WHERE provider = ${provider} AND name = ${id.slice(8)} ORDER BY entity_type, direction`
          : own !== null
            ? sql`${tenants} WHERE provider = ${provider} AND id = ${own[1]!}::uuid`
            : undefined
        if (rows === undefined) return []
        return yield* rows.pipe(Effect.flatMap(decodeAll), withTenant(sql, tenantId), Effect.mapError(unavailable))
      })

      const save = Effect.fn("PostgresMappingTemplates.save")(function* (t: NewTenantTemplate) {
        const id = crypto.randomUUID()
        yield* sql`INSERT INTO tenant_mapping_templates (id, tenant_id, provider, entity_type, direction, name, rules,
            created_by)
          VALUES (${id}, ${t.tenantId}, ${t.provider}, ${t.entityType}, ${t.direction}, ${t.name},
            ${JSON.stringify(t.rules)}::jsonb, ${t.createdBy})`.pipe(
          withTenant(sql, t.tenantId),
          Effect.catchTag("SqlError", (e) =>
            Effect.fail(e.reason._tag === "UniqueViolation" ? new TemplateNameTaken({ name: t.name }) : unavailable(e))
          )
        )
        return MappingTemplate.make({
          id: `tenant:${id}`,
          kind: "tenant",
          provider: t.provider,
          entityType: t.entityType,
          direction: t.direction,
          name: t.name,
          venueType: null,
          rules: t.rules,
          usageCount: 0
        })
      })

      const countUse = Effect.fn("PostgresMappingTemplates.countUse")(function* (
        tenantId: TenantId,
        t: MappingTemplate
      ) {
        const own = tenantUuid.exec(t.id)
        yield* (
          own === null
            ? sql`UPDATE field_mapping_templates SET usage_count = usage_count + 1
                WHERE provider = ${t.provider} AND entity_type = ${t.entityType} AND direction = ${t.direction}
                  AND name = ${t.name}`
            : sql`UPDATE tenant_mapping_templates SET usage_count = usage_count + 1 WHERE id = ${own[1]!}::uuid`
        ).pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
      })

      return MappingTemplates.of({ list, find, save, countUse })
    })
  )
} as const
