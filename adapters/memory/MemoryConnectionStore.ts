import { Effect, Layer, Option, Ref } from "effect"
import { Connection } from "../../domain/Connection.ts"
import type { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { AlreadyConnected } from "../../domain/Errors.ts"
import { afterCheck, ConnectionHealth, type HealthCheck } from "../../domain/Health.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { ConnectionStore, type SealedField } from "../../ports/ConnectionStore.ts"

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

      /** The state with the connection inserted or replaced (keeping an existing row's id), its fields and a health row. */
      const saved = (s: State, connection: Connection, secrets: ReadonlyArray<SealedField>) => {
        const key = connectionKey(connection)
        const existing = s.connections.get(key)
        const row = existing
          ? new Connection({ ...connection, id: existing.id, createdAt: existing.createdAt })
          : connection
        const secretsNext = new Map(s.secrets)
        for (const { field, sealed } of secrets) {
          secretsNext.set(placeKey({ ...row, field }), { connectionId: row.id, sealed })
        }
        const hKey = healthKey(row.tenantId, row.id)
        const healthNext = new Map(s.health)
        if (!healthNext.has(hKey)) {
          healthNext.set(
            hKey,
            new ConnectionHealth({
              connectionId: row.id,
              status: "unknown",
              consecutiveFailures: 0,
              lastCheckAt: null,
              lastSuccessAt: null,
              lastError: null,
              lastLatencyMs: null
            })
          )
        }
        const state: State = {
          connections: new Map(s.connections).set(key, row),
          secrets: secretsNext,
          health: healthNext
        }
        return { id: row.id, state }
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
        createConnected: (connection, secrets) =>
          Ref.modify(state, (s) => {
            const existing = s.connections.get(connectionKey(connection))
            if (existing?.status === "connected") return [Option.none<ConnectionId>(), s]
            const next = saved(s, connection, secrets)
            return [Option.some(next.id), next.state]
          }).pipe(
            Effect.flatMap(
              Option.match({
                onNone: () =>
                  Effect.fail(new AlreadyConnected({ provider: connection.provider, venueId: connection.venueId })),
                onSome: Effect.succeed
              })
            )
          ),
        saveConnected: (connection, secrets) => Ref.update(state, (s) => saved(s, connection, secrets).state),
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
