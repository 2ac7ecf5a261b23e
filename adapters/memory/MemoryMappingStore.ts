import { Effect, Layer, Option } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { MappingVersionConflict } from "../../domain/mapping/MappingErrors.ts"
import { type MappingDraft, type MappingKey, SavedMapping } from "../../domain/mapping/SavedMapping.ts"
import { MappingStore } from "../../ports/MappingStore.ts"

const keyOf = (key: MappingKey) => `${key.tenantId}|${key.connectionId}|${key.entityType}|${key.direction}`

/** Mappings in process memory: per key, every version in order (the last is current) and the status. */
export const MemoryMappingStore = {
  layer: Layer.sync(MappingStore, () => {
    const mappings = new Map<
      string,
      { versions: Array<SavedMapping>; status: Pick<SavedMapping, "status" | "brokenRules"> }
    >()
    const withStatus = (entry: { status: Pick<SavedMapping, "status" | "brokenRules"> }, v: SavedMapping) =>
      new SavedMapping({ ...v, ...entry.status })

    return MappingStore.of({
      current: (key) =>
        Effect.sync(() => {
          const entry = mappings.get(keyOf(key))
          return Option.fromNullishOr(entry && withStatus(entry, entry.versions.at(-1)!))
        }),
      version: (key, n) =>
        Effect.sync(() => {
          const entry = mappings.get(keyOf(key))
          const found = entry?.versions.find((v) => v.version === n)
          return Option.fromNullishOr(entry && found && withStatus(entry, found))
        }),
      history: (key) =>
        Effect.sync(() => {
          const entry = mappings.get(keyOf(key))
          return entry === undefined ? [] : entry.versions.map((v) => withStatus(entry, v)).reverse()
        }),
      save: (key, draft: MappingDraft) =>
        Effect.suspend(() => {
          const entry = mappings.get(keyOf(key))
          const currentVersion = entry?.versions.at(-1)?.version ?? 0
          if (draft.expectedVersion !== undefined && draft.expectedVersion !== currentVersion)
            return Effect.fail(new MappingVersionConflict({ expectedVersion: draft.expectedVersion, currentVersion }))
          const saved = new SavedMapping({
            connectionId: key.connectionId,
            entityType: key.entityType,
            direction: key.direction,
            version: currentVersion + 1,
            rules: draft.rules,
            template: draft.template,
            updatedAt: draft.at,
            updatedBy: draft.updatedBy,
            status: "ok",
            brokenRules: []
          })
          const status = { status: "ok" as const, brokenRules: [] }
          mappings.set(keyOf(key), { versions: [...(entry?.versions ?? []), saved], status })
          return Effect.succeed(saved)
        }),
      markBroken: (key, broken) =>
        Effect.sync(() => {
          const entry = mappings.get(keyOf(key))
          if (entry !== undefined) entry.status = { status: broken.length === 0 ? "ok" : "broken", brokenRules: broken }
        }),
      ofConnection: (tenantId: TenantId, connectionId: ConnectionId) =>
        Effect.sync(() =>
          [...mappings.entries()]
            .filter(([key]) => key.startsWith(`${tenantId}|${connectionId}|`))
            .map(([, entry]) => withStatus(entry, entry.versions.at(-1)!))
            .sort((a, b) => a.entityType.localeCompare(b.entityType) || a.direction.localeCompare(b.direction))
        )
    })
  })
} as const
