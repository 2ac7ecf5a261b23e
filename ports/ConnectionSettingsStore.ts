import type { Effect } from "effect"
import { Context } from "effect"
import type { Connection } from "../domain/Connection.ts"
import type { ConnectionSettings, SettingsChanges } from "../domain/ConnectionSettings.ts"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"
import type { SealedField } from "./ConnectionStore.ts"

export type SettingsOwner = Pick<Connection, "tenantId" | "id" | "venueId" | "provider">

/** The settings a venue chose for its connection (column `connections.settings`), scoped to one tenant. */
export class ConnectionSettingsStore extends Context.Service<
  ConnectionSettingsStore,
  {
    /** The connection's settings; none chosen (or no such connection in the tenant) reads as `{}`. */
    readonly read: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<ConnectionSettings, StoreUnavailable>
    /**
     * Applies `changes` (a `null` clears that setting) and replaces the sealed fields that come with them (Mailchimp's
     * webhook URL secret), in one transaction.
     */
    readonly update: (
      connection: SettingsOwner,
      changes: Partial<SettingsChanges>,
      secrets: ReadonlyArray<SealedField>
    ) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/ConnectionSettingsStore") {}
