import { Effect, Layer, Option } from "effect"
import type { ConnectionSettings, SettingsChanges } from "../../domain/ConnectionSettings.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { ConnectionSettingsStore, type SettingsOwner } from "../../ports/ConnectionSettingsStore.ts"
import { ConnectionStore, type SealedField } from "../../ports/ConnectionStore.ts"

const key = (tenantId: TenantId, connectionId: ConnectionId) => `${tenantId}|${connectionId}`

/**
 * Settings in process memory, beside a ConnectionStore that holds the connection rows and their sealed fields, as
 * `connections.settings` sits beside `credentials`.
 */
export const MemoryConnectionSettingsStore = {
  layer: Layer.effect(
    ConnectionSettingsStore,
    Effect.gen(function* () {
      const connections = yield* ConnectionStore
      const settings = new Map<string, ConnectionSettings>()

      const read = (tenantId: TenantId, connectionId: ConnectionId) =>
        Effect.sync((): ConnectionSettings => settings.get(key(tenantId, connectionId)) ?? {}).pipe(
          Effect.withSpan("MemoryConnectionSettingsStore.read")
        )

      const update = Effect.fn("MemoryConnectionSettingsStore.update")(function* (
        c: SettingsOwner,
        changes: Partial<SettingsChanges>,
        secrets: ReadonlyArray<SealedField>
      ) {
        const found = (yield* connections.find(c.tenantId, c.venueId, c.provider)).pipe(
          Option.filter((row) => row.id === c.id)
        )
        if (Option.isNone(found)) return
        if (secrets.length > 0) yield* connections.saveConnected(found.value, secrets)
        const next: Record<string, string> = { ...settings.get(key(c.tenantId, c.id)) }
        for (const [name, value] of Object.entries(changes)) {
          if (value === null) delete next[name]
          else if (value !== undefined) next[name] = value
        }
        settings.set(key(c.tenantId, c.id), next)
      })

      return ConnectionSettingsStore.of({ read, update })
    })
  )
}
