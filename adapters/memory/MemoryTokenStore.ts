import { Context, Effect, Layer, Option, Semaphore } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { SealedSecret } from "../../domain/Credential.ts"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import type { TokenLifecycle } from "../../domain/TokenLifecycle.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { type DueConnection, type SealedTokens, type StoredTokens, TokenStore } from "../../ports/TokenStore.ts"

/** What `oauth_tokens` and the two token rows of `credentials` hold for one connection. */
interface TokenRow {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly provider: OAuthProviderName
  readonly version: number
  readonly lifecycle: TokenLifecycle
  readonly renewAt: Date | null
  readonly lastRefreshError: string | null
  readonly accessToken: SealedSecret
  readonly refreshToken: SealedSecret | null
}

interface PendingRow {
  readonly id: string
  readonly key: string
  readonly baseVersion: number
  readonly sealed: SealedSecret
  /** Insertion order: the `created_at` tie-break. */
  readonly seq: number
}

/** The writes of one locked body, applied together when it succeeds. */
interface Staged {
  readonly store: object
  readonly key: string
  row: TokenRow | undefined
  readonly droppedPending: Set<string>
  readonly connectionWrites: Array<Effect.Effect<void, StoreUnavailable>>
}

const ActiveLock = Context.Reference<Staged | undefined>("integration-service/adapters/memory/MemoryTokenStore/lock", {
  defaultValue: () => undefined
})

const rowKey = (tenantId: TenantId, connectionId: ConnectionId) => `${tenantId}|${connectionId}`

/** A provider that does not rotate keeps its refresh token; a pair without one drops it. */
const nextRefresh = (previous: SealedSecret | null, tokens: SealedTokens) =>
  tokens.refreshToken !== null ? tokens.refreshToken : tokens.lifecycle.hasRefreshToken ? previous : null

/**
 * TokenStore in process memory, beside a ConnectionStore that holds the connection rows (status, venue), as
 * `connections` does beside `oauth_tokens`. The lock is one semaphore per pair; `replace`/`markNeedsReauth` inside
 * `locked` are staged and applied only when the body succeeds, `savePending` lands at once.
 */
export const MemoryTokenStore = {
  layer: Layer.effect(
    TokenStore,
    Effect.gen(function* () {
      const connections = yield* ConnectionStore
      const self = {}
      const rows = new Map<string, TokenRow>()
      const pendingRows = new Map<string, PendingRow>()
      const locks = new Map<string, Semaphore.Semaphore>()
      let seq = 0

      const lock = (key: string) => {
        let semaphore = locks.get(key)
        if (semaphore === undefined) {
          semaphore = Semaphore.makeUnsafe(1)
          locks.set(key, semaphore)
        }
        return semaphore.withPermits(1)
      }

      const connectionOf = (tenantId: TenantId, connectionId: ConnectionId) =>
        Effect.map(connections.list(tenantId, Option.none()), (all) =>
          Option.fromNullishOr(all.find((c) => c.id === connectionId))
        )

      const pendingOf = (key: string, version: number) =>
        [...pendingRows.values()]
          .filter((p) => p.key === key && p.baseVersion >= version)
          .sort((a, b) => b.baseVersion - a.baseVersion || b.seq - a.seq)
          .map((p) => ({ id: p.id, sealed: p.sealed }))

      const stored = (row: TokenRow | undefined, tenantId: TenantId, connectionId: ConnectionId) =>
        Effect.gen(function* () {
          if (row === undefined) return Option.none<StoredTokens>()
          const connection = yield* connectionOf(tenantId, connectionId)
          if (Option.isNone(connection)) return Option.none<StoredTokens>()
          return Option.some<StoredTokens>({
            tenantId,
            connectionId,
            venueId: connection.value.venueId,
            provider: row.provider,
            status: connection.value.status,
            version: row.version,
            lifecycle: row.lifecycle,
            accessToken: row.accessToken,
            refreshToken: row.refreshToken,
            pending: pendingOf(rowKey(tenantId, connectionId), row.version)
          })
        })

      const begin = (key: string): Staged => ({
        store: self,
        key,
        row: rows.get(key),
        droppedPending: new Set(),
        connectionWrites: []
      })

      const commit = (staged: Staged) =>
        Effect.gen(function* () {
          if (staged.row === undefined) rows.delete(staged.key)
          else rows.set(staged.key, staged.row)
          for (const id of staged.droppedPending) pendingRows.delete(id)
          for (const write of staged.connectionWrites) yield* write
        })

      /** Runs `write` in the open locked body of this pair, or in a lock and commit of its own. */
      const write = (
        tenantId: TenantId,
        connectionId: ConnectionId,
        f: (staged: Staged) => Effect.Effect<void, StoreUnavailable>
      ) => {
        const key = rowKey(tenantId, connectionId)
        return Effect.flatMap(ActiveLock, (active) =>
          active !== undefined && active.store === self && active.key === key
            ? f(active)
            : lock(key)(
                Effect.suspend(() => {
                  const staged = begin(key)
                  return Effect.andThen(f(staged), commit(staged))
                })
              )
        )
      }

      const read = Effect.fn("MemoryTokenStore.read")(function* (tenantId: TenantId, connectionId: ConnectionId) {
        const key = rowKey(tenantId, connectionId)
        const active = yield* ActiveLock
        const row = active !== undefined && active.store === self && active.key === key ? active.row : rows.get(key)
        return yield* stored(row, tenantId, connectionId)
      })

      const locked = <A, E, R>(
        tenantId: TenantId,
        connectionId: ConnectionId,
        body: (current: Option.Option<StoredTokens>) => Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | StoreUnavailable, R> => {
        const key = rowKey(tenantId, connectionId)
        return lock(key)(
          Effect.gen(function* () {
            const staged = begin(key)
            const current = yield* stored(staged.row, tenantId, connectionId)
            const result = yield* Effect.provideService(body(current), ActiveLock, staged)
            yield* commit(staged)
            return result
          })
        ).pipe(Effect.withSpan("MemoryTokenStore.locked", { attributes: { "connection.id": connectionId } }))
      }

      const savePending = Effect.fn("MemoryTokenStore.savePending")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        baseVersion: number,
        sealed: SealedSecret
      ) {
        const key = rowKey(tenantId, connectionId)
        // Like the foreign key to oauth_tokens: no pair, nowhere to keep a pending one.
        if (!rows.has(key)) return yield* new StoreUnavailable({ message: "no token pair to keep a pending pair for" })
        const id = crypto.randomUUID()
        pendingRows.set(id, { id, key, baseVersion, sealed, seq: seq++ })
        return id
      })

      const replace = Effect.fn("MemoryTokenStore.replace")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        expectedVersion: number,
        tokens: SealedTokens
      ) {
        yield* write(tenantId, connectionId, (staged) => {
          const row = staged.row
          if (row === undefined || row.version !== expectedVersion)
            return Effect.fail(new StoreUnavailable({ message: "the token pair changed under its lock" }))
          staged.row = {
            ...row,
            version: row.version + 1,
            lifecycle: tokens.lifecycle,
            renewAt: tokens.renewAt,
            lastRefreshError: null,
            accessToken: tokens.accessToken,
            refreshToken: nextRefresh(row.refreshToken, tokens)
          }
          for (const p of pendingRows.values()) if (p.key === staged.key) staged.droppedPending.add(p.id)
          return Effect.void
        })
      })

      const markNeedsReauth = Effect.fn("MemoryTokenStore.markNeedsReauth")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        reason: string,
        at: Date
      ) {
        yield* write(tenantId, connectionId, (staged) => {
          if (staged.row !== undefined) staged.row = { ...staged.row, lastRefreshError: reason, renewAt: null }
          staged.connectionWrites.push(connections.setStatus(tenantId, connectionId, "needs_reauth", reason, at))
          return Effect.void
        })
      })

      const saveGrant = Effect.fn("MemoryTokenStore.saveGrant")(function* (
        connection: Connection,
        tokens: SealedTokens
      ) {
        const previous = yield* connections.find(connection.tenantId, connection.venueId, connection.provider)
        const id = Option.match(previous, { onNone: () => connection.id, onSome: (p) => p.id })
        // Waits for a refresh in flight on the old pair, so it cannot land over the new one.
        return yield* lock(rowKey(connection.tenantId, id))(
          Effect.gen(function* () {
            yield* connections.saveConnected(connection, [])
            const saved = yield* connections.find(connection.tenantId, connection.venueId, connection.provider)
            if (Option.isNone(saved))
              return yield* new StoreUnavailable({ message: "the connection was not kept by its store" })
            const key = rowKey(connection.tenantId, saved.value.id)
            const before = rows.get(key)
            rows.set(key, {
              tenantId: connection.tenantId,
              connectionId: saved.value.id,
              provider: connection.provider as OAuthProviderName,
              version: before === undefined ? 1 : before.version + 1,
              lifecycle: tokens.lifecycle,
              renewAt: tokens.renewAt,
              lastRefreshError: null,
              accessToken: tokens.accessToken,
              refreshToken: nextRefresh(before?.refreshToken ?? null, tokens)
            })
            for (const [pendingId, p] of pendingRows) if (p.key === key) pendingRows.delete(pendingId)
            return saved.value
          })
        )
      })

      const remove = Effect.fn("MemoryTokenStore.remove")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        at: Date
      ) {
        const key = rowKey(tenantId, connectionId)
        yield* lock(key)(
          Effect.gen(function* () {
            yield* connections.disconnect(tenantId, connectionId, at)
            rows.delete(key)
            for (const [pendingId, p] of pendingRows) if (p.key === key) pendingRows.delete(pendingId)
          })
        )
      })

      const due = Effect.fn("MemoryTokenStore.due")(function* (before: Date, limit: number) {
        const candidates = [...rows.values()]
          .filter((row) => row.renewAt !== null && row.renewAt.getTime() <= before.getTime())
          .sort((a, b) => a.renewAt!.getTime() - b.renewAt!.getTime())
        const found: Array<DueConnection> = []
        for (const row of candidates) {
          if (found.length >= limit) break
          const connection = yield* connectionOf(row.tenantId, row.connectionId)
          if (Option.isSome(connection) && connection.value.status === "connected")
            found.push({ tenantId: row.tenantId, connectionId: row.connectionId })
        }
        return found
      })

      return TokenStore.of({ read, locked, savePending, replace, markNeedsReauth, saveGrant, remove, due })
    })
  )
}
