import { Effect, Layer } from "effect"
import { builtInTemplates } from "../../domain/mapping/DefaultTemplates.ts"
import { TemplateNameTaken } from "../../domain/mapping/MappingErrors.ts"
import { MappingTemplate } from "../../domain/mapping/SavedMapping.ts"
import { MappingTemplates } from "../../ports/MappingTemplates.ts"

/** Built-in templates from the data files and tenants' own, in process memory. */
export const MemoryMappingTemplates = {
  layer: Layer.sync(MappingTemplates, () => {
    const builtIns = builtInTemplates.map((t) =>
      MappingTemplate.make({
        id: `builtin:${t.name}`,
        kind: "builtin",
        provider: t.provider,
        entityType: t.entityType,
        direction: t.direction,
        name: t.name,
        venueType: t.venueType,
        rules: t.rules,
        usageCount: 0
      })
    )
    const owned = new Map<string, Array<MappingTemplate>>()
    const uses = new Map<string, number>()
    const useKey = (t: MappingTemplate) => `${t.id}|${t.provider}|${t.entityType}|${t.direction}`
    const counted = (t: MappingTemplate) => MappingTemplate.make({ ...t, usageCount: uses.get(useKey(t)) ?? 0 })
    const order = (a: MappingTemplate, b: MappingTemplate) =>
      a.entityType.localeCompare(b.entityType) || a.direction.localeCompare(b.direction) || a.name.localeCompare(b.name)

    return MappingTemplates.of({
      list: (tenantId, provider) =>
        Effect.sync(() => [
          ...builtIns
            .filter((t) => t.provider === provider)
            .sort(order)
            .map(counted),
          ...(owned.get(tenantId) ?? [])
            .filter((t) => t.provider === provider)
            .sort(order)
            .map(counted)
        ]),
      find: (tenantId, provider, id) =>
        Effect.sync(() =>
          [...builtIns, ...(owned.get(tenantId) ?? [])]
            .filter((t) => t.provider === provider && t.id === id)
            .sort(order)
            .map(counted)
        ),
      save: (t) =>
        Effect.suspend(() => {
          const mine = owned.get(t.tenantId) ?? []
          const clash = mine.some(
            (o) =>
              o.provider === t.provider &&
              o.entityType === t.entityType &&
              o.direction === t.direction &&
              o.name === t.name
          )
          if (clash) return Effect.fail(new TemplateNameTaken({ name: t.name }))
          const saved = MappingTemplate.make({
            id: `tenant:${crypto.randomUUID()}`,
            kind: "tenant",
            provider: t.provider,
            entityType: t.entityType,
            direction: t.direction,
            name: t.name,
            venueType: null,
            rules: t.rules,
            usageCount: 0
          })
          owned.set(t.tenantId, [...mine, saved])
          return Effect.succeed(saved)
        }),
      countUse: (_tenantId, t) =>
        Effect.sync(() => {
          uses.set(useKey(t), (uses.get(useKey(t)) ?? 0) + 1)
        })
    })
  })
} as const
