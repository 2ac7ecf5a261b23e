import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { Connection, ConnectionStatus } from "../domain/Connection.ts"
import type { CredentialField, SealedSecret, SecretPlace } from "../domain/Credential.ts"
import type { AlreadyConnected, StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionHealth, HealthCheck } from "../domain/Health.ts"
import type { ConnectionId, TenantId, VenueId } from "../domain/Ids.ts"
import type { Provider } from "../domain/Provider.ts"

export interface SealedField {
  readonly field: CredentialField
  readonly sealed: SealedSecret
}

/**
 * Connections with their sealed credentials and health. Every operation is
 * scoped to one tenant and atomic: a failure leaves nothing half-written.
 */
export class ConnectionStore extends Context.Service<
  ConnectionStore,
  {
    readonly find: (
      tenantId: TenantId,
      venueId: VenueId,
      provider: Provider
    ) => Effect.Effect<Option.Option<Connection>, StoreUnavailable>
    /** Every connection of the tenant, or only those of the given venues. */
    readonly list: (
      tenantId: TenantId,
      venueIds: Option.Option<ReadonlyArray<VenueId>>
    ) => Effect.Effect<ReadonlyArray<Connection>, StoreUnavailable>
    /**
     * Connects a venue: like `saveConnected`, but fails with `AlreadyConnected` when the venue is connected to the
     * provider by the time it commits, so that of concurrent connects exactly one wins. Answers the id the row has
     * (a disconnected row taken over keeps its own).
     */
    readonly createConnected: (
      connection: Connection,
      secrets: ReadonlyArray<SealedField>
    ) => Effect.Effect<ConnectionId, AlreadyConnected | StoreUnavailable>
    /** Inserts or replaces the connection, replaces the given sealed fields and makes sure a health row exists. */
    readonly saveConnected: (
      connection: Connection,
      secrets: ReadonlyArray<SealedField>
    ) => Effect.Effect<void, StoreUnavailable>
    readonly setStatus: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      status: ConnectionStatus,
      lastError: string | null,
      at: Date
    ) => Effect.Effect<void, StoreUnavailable>
    /** Marks the connection disconnected and deletes every ciphertext it had. */
    readonly disconnect: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      at: Date
    ) => Effect.Effect<void, StoreUnavailable>
    readonly secret: (place: SecretPlace) => Effect.Effect<Option.Option<SealedSecret>, StoreUnavailable>
    readonly recordHealth: (check: HealthCheck) => Effect.Effect<ConnectionHealth, StoreUnavailable>
    readonly health: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<Option.Option<ConnectionHealth>, StoreUnavailable>
  }
>()("integration-service/ports/ConnectionStore") {}
