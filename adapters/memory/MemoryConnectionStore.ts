import { Effect, Layer, Option, Ref } from "effect"
import { Connection } from "../../domain/Connection.ts"
import type { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { afterCheck, ConnectionHealth, type HealthCheck } from "../../domain/Health.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"

interface State {
  readonly connections: ReadonlyMap<string, Connection>
  readonly secrets: ReadonlyMap<string, { readonly connectionId: ConnectionId; readonly sealed: SealedSecret }>
  readonly health: ReadonlyMap<string, ConnectionHealth>
}

const connectionKey = (c: Pick<Connection, "tenantId" | "venueId" | "provider">) =>
  `${c.tenantId}|${c.venueId}|${c.provider}`
const placeKey = (p: SecretPlace) => `${p.tenantId}|${p.venueId}|${p.provider}|${p.field}`
const healthKey = (tenantId: TenantId, connectionId: ConnectionId) => `${tenantId}|${connectionId}`

/** ConnectionStore in process memory: every update is one atomic Ref step. */
export const MemoryConnectionStore = {
  layer: Layer.effect(
    ConnectionStore,
    Effect.gen(function* () {
      const state = yield* Ref.make<State>({ connections: new Map(), secrets: new Map(), health: new Map() })
      /** The state with the tenant's connection `id` replaced by `f` of it; unchanged when there is none. */
      const updateConnection = (s: State, tenantId: TenantId, id: ConnectionId, f: (c: Connection) => Connection) => {
        const c = [...s.connections.values()].find((x) => x.tenantId === tenantId && x.id === id)
        return c === undefined ? s : { ...s, connections: new Map(s.connections).set(connectionKey(c), f(c)) }
      }

      return ConnectionStore.of({
        find: (tenantId, venueId, provider) =>
          Ref.get(state).pipe(
            Effect.map((s) => Option.fromNullishOr(s.connections.get(connectionKey({ tenantId, venueId, provider }))))
          ),
        list: (tenantId, venueIds) =>
          Ref.get(state).pipe(
            Effect.map((s) =>
              [...s.connections.values()]
                .filter(
                  (c) =>
                    c.tenantId === tenantId &&
                    Option.match(venueIds, { onNone: () => true, onSome: (ids) => ids.includes(c.venueId) })
                )
                .sort((a, b) => a.venueId.localeCompare(b.venueId) || a.provider.localeCompare(b.provider))
            )
          ),
        saveConnected: (connection, secrets) =>
          Ref.update(state, (s) => {
            const key = connectionKey(connection)
            const existing = s.connections.get(key)
            const saved = existing
              ? new Connection({ ...connection, id: existing.id, createdAt: existing.createdAt })
              : connection
            const secretsNext = new Map(s.secrets)
            for (const { field, sealed } of secrets) {
              secretsNext.set(placeKey({ ...saved, field }), { connectionId: saved.id, sealed })
            }
            const hKey = healthKey(saved.tenantId, saved.id)
            const healthNext = new Map(s.health)
            if (!healthNext.has(hKey)) {
              healthNext.set(
                hKey,
                new ConnectionHealth({
                  connectionId: saved.id,
                  status: "unknown",
                  consecutiveFailures: 0,
                  lastCheckAt: null,
                  lastSuccessAt: null,
                  lastError: null,
                  lastLatencyMs: null
                })
              )
            }
            return {
              connections: new Map(s.connections).set(key, saved),
              secrets: secretsNext,
              health: healthNext
            }
          }),
        setStatus: (tenantId, connectionId, status, lastError, at) =>
          Ref.update(state, (s) =>
            updateConnection(
              s,
              tenantId,
              connectionId,
              (c) => new Connection({ ...c, status, lastError, updatedAt: at })
            )
          ),
        disconnect: (tenantId, connectionId, at) =>
          Ref.update(state, (s) => {
            const next = updateConnection(
              s,
              tenantId,
              connectionId,
              (c) =>
                new Connection({ ...c, status: "disconnected", disconnectedAt: at, updatedAt: at, lastError: null })
            )
            return next === s
              ? s
              : { ...next, secrets: new Map([...s.secrets].filter(([, v]) => v.connectionId !== connectionId)) }
          }),
        secret: (place) =>
          Ref.get(state).pipe(
            Effect.map((s) => Option.map(Option.fromNullishOr(s.secrets.get(placeKey(place))), (v) => v.sealed))
          ),
        recordHealth: (check: HealthCheck) =>
          Ref.modify(state, (s) => {
            const key = healthKey(check.tenantId, check.connectionId)
            const next = afterCheck(s.health.get(key), check)
            return [next, { ...s, health: new Map(s.health).set(key, next) }]
          }),
        health: (tenantId, connectionId) =>
          Ref.get(state).pipe(Effect.map((s) => Option.fromNullishOr(s.health.get(healthKey(tenantId, connectionId)))))
      })
    })
  )
}
