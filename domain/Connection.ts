import { Schema } from "effect"
import { ConnectionId, TenantId, VenueId } from "./Ids.ts"
import { AuthType, Provider } from "./Provider.ts"

export const ConnectionStatus = Schema.Literals(["pending", "connected", "disconnected", "needs_reauth", "error"])
export type ConnectionStatus = typeof ConnectionStatus.Type

/** One venue's link to one provider; its secrets live beside it, sealed, never on this record. */
export class Connection extends Schema.Class<Connection>("Connection")({
  id: ConnectionId,
  tenantId: TenantId,
  venueId: VenueId,
  provider: Provider,
  authType: AuthType,
  status: ConnectionStatus,
  accountId: Schema.NullOr(Schema.String),
  accountName: Schema.NullOr(Schema.String),
  livemode: Schema.NullOr(Schema.Boolean),
  lastError: Schema.NullOr(Schema.String),
  connectedAt: Schema.NullOr(Schema.Date),
  disconnectedAt: Schema.NullOr(Schema.Date),
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** What a provider tells us about the account a credential opens. */
export class ProviderAccount extends Schema.Class<ProviderAccount>("ProviderAccount")({
  accountId: Schema.String,
  accountName: Schema.NullOr(Schema.String),
  livemode: Schema.Boolean
}) {}
