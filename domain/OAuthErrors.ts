import { Schema } from "effect"
import { ConnectionId, VenueId } from "./Ids.ts"
import { OAuthProviderName } from "./OAuth.ts"

/** The callback's state is unknown, expired, already used or for another provider. Says nothing more on purpose. */
export class InvalidOAuthState extends Schema.TaggedError<InvalidOAuthState>()("InvalidOAuthState", {
  provider: OAuthProviderName
}) {}

/** The provider's redirect lacks the code or the state (checked before the state is looked up or spent). */
export class IncompleteOAuthCallback extends Schema.TaggedError<IncompleteOAuthCallback>()("IncompleteOAuthCallback", {
  provider: OAuthProviderName,
  missing: Schema.Literals(["code", "state"])
}) {}

/** The provider refused the stored grant: the venue must connect again; no refresh is attempted until it does. */
export class ReauthorizationRequired extends Schema.TaggedError<ReauthorizationRequired>()("ReauthorizationRequired", {
  provider: OAuthProviderName,
  venueId: VenueId,
  reason: Schema.String
}) {}

/** The connection holds no OAuth tokens (never connected, or disconnected). */
export class TokensMissing extends Schema.TaggedError<TokensMissing>()("TokensMissing", {
  connectionId: ConnectionId
}) {}
