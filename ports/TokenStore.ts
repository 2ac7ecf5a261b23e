import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { Connection, ConnectionStatus } from "../domain/Connection.ts"
import type { SealedSecret } from "../domain/Credential.ts"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../domain/Ids.ts"
import type { OAuthProviderName } from "../domain/OAuth.ts"
import type { TokenLifecycle } from "../domain/TokenLifecycle.ts"

/** A token pair ready to store: sealed secrets, their clock, and when to renew it in the background. */
export interface SealedTokens {
  readonly accessToken: SealedSecret
  /** Null keeps the stored refresh token (a provider that does not rotate) or stores none. */
  readonly refreshToken: SealedSecret | null
  readonly lifecycle: TokenLifecycle
  readonly renewAt: Date | null
}

/** A refreshed pair committed ahead of the main write, sealed as one secret. */
export interface PendingTokens {
  readonly id: string
  readonly sealed: SealedSecret
}

export interface StoredTokens {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
  readonly venueId: VenueId
  readonly provider: OAuthProviderName
  readonly status: ConnectionStatus
  readonly version: number
  readonly lifecycle: TokenLifecycle
  readonly accessToken: SealedSecret
  readonly refreshToken: SealedSecret | null
  /**
   * Pairs left by refreshes whose main write never committed, newest first
   * (highest base version, then latest): the first is the newest pair the
   * provider issued, and the only one whose refresh token still works.
   */
  readonly pending: ReadonlyArray<PendingTokens>
}

export interface DueConnection {
  readonly tenantId: TenantId
  readonly connectionId: ConnectionId
}

/**
 * OAuth token pairs of connections. `locked` is the one-refresh-at-a-time
 * guarantee across every process: while its body runs nobody else holds the
 * pair, and `replace`/`markNeedsReauth` issued from the body commit together
 * when it succeeds (and not at all when it fails). `savePending` commits at
 * once, on its own, even from inside `locked`.
 */
export class TokenStore extends Context.Service<
  TokenStore,
  {
    readonly read: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<Option.Option<StoredTokens>, StoreUnavailable>
    readonly locked: <A, E, R>(
      tenantId: TenantId,
      connectionId: ConnectionId,
      body: (current: Option.Option<StoredTokens>) => Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | StoreUnavailable, R>
    readonly savePending: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      baseVersion: number,
      sealed: SealedSecret
    ) => Effect.Effect<string, StoreUnavailable>
    /** Stores a new pair if the version is still `expectedVersion`; drops every pending pair. */
    readonly replace: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      expectedVersion: number,
      tokens: SealedTokens
    ) => Effect.Effect<void, StoreUnavailable>
    readonly markNeedsReauth: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      reason: string,
      at: Date
    ) => Effect.Effect<void, StoreUnavailable>
    /** A completed authorization: the connection (connected, account id) and its pair, replacing any previous pair at once. */
    readonly saveGrant: (connection: Connection, tokens: SealedTokens) => Effect.Effect<Connection, StoreUnavailable>
    /** Deletes the pair and every ciphertext, and marks the connection disconnected. */
    readonly remove: (tenantId: TenantId, connectionId: ConnectionId, at: Date) => Effect.Effect<void, StoreUnavailable>
    /** Connected pairs whose background renewal is due by `before`, across tenants. */
    readonly due: (before: Date, limit: number) => Effect.Effect<ReadonlyArray<DueConnection>, StoreUnavailable>
  }
>()("integration-service/ports/TokenStore") {}
