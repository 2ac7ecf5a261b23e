import { Schema } from "effect"
import { VenueId } from "./Ids.ts"
import { Provider } from "./Provider.ts"

export class ConnectionNotFound extends Schema.TaggedError<ConnectionNotFound>()("ConnectionNotFound", {
  provider: Provider,
  venueId: VenueId
}) {}

export class AlreadyConnected extends Schema.TaggedError<AlreadyConnected>()("AlreadyConnected", {
  provider: Provider,
  venueId: VenueId
}) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}) {}

/** The provider refused the credential (wrong, revoked or under-privileged key). */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {
  provider: Provider,
  field: Schema.String,
  message: Schema.String
}) {}

/** The request is well formed but cannot apply to this provider or connection. */
export class Unprocessable extends Schema.TaggedError<Unprocessable>()("Unprocessable", {
  field: Schema.String,
  message: Schema.String
}) {}

/** The provider could not be reached or answered with a server error. */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  provider: Provider,
  message: Schema.String,
  retryable: Schema.Boolean
}) {}

/** A sealed secret could not be opened: wrong place, tampered, or its key is gone. */
export class SecretUnreadable extends Schema.TaggedError<SecretUnreadable>()("SecretUnreadable", {
  message: Schema.String
}) {}

/** Key management (KMS or the local keyring) failed. */
export class KeyManagementUnavailable extends Schema.TaggedError<KeyManagementUnavailable>()(
  "KeyManagementUnavailable",
  { message: Schema.String }
) {}

/** The database failed in a way the caller cannot fix. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String
}) {}
