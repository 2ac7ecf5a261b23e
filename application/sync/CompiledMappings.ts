import { Context, Effect, Layer, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { sidesOf } from "../../domain/mapping/Catalogs.ts"
import { type CompiledMapping, compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { PairDirection } from "../../domain/sync/SupportedPairs.ts"
import { MappingStore } from "../../ports/MappingStore.ts"

export interface Mapping {
  readonly version: number
  readonly apply: CompiledMapping
}

/**
 * The mapping in force for a connection × entity × direction: the saved version, else the default template as
 * version 0; each version compiled once per process.
 */
export class CompiledMappings extends Context.Service<CompiledMappings>()(
  "integration-service/application/sync/CompiledMappings",
  {
    make: Effect.gen(function* () {
      const mappings = yield* MappingStore
      const compiled = new Map<string, Mapping>()

      const current = Effect.fnUntraced(function* (
        connection: Connection,
        entityType: EntityType,
        direction: PairDirection
      ) {
        const saved = yield* mappings.current({
          tenantId: connection.tenantId,
          connectionId: connection.id,
          entityType,
          direction
        })
        const version = Option.match(saved, { onNone: () => 0, onSome: (m) => m.version })
        const key = `${connection.id}|${entityType}|${direction}|${version}`
        const cached = compiled.get(key)
        if (cached !== undefined) return cached
        const rules = Option.match(saved, {
          onNone: () => defaultTemplate(connection.provider, entityType, direction)?.rules ?? [],
          onSome: (m) => m.rules
        })
        const mapping = {
          version,
          apply: compileRules(rules, sidesOf(connection.provider, entityType, direction).targets)
        }
        compiled.set(key, mapping)
        return mapping
      })

      return { current }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
