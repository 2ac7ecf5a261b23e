import { Schema } from "effect"
import { TenantId, VenueId } from "./Ids.ts"
import { Provider } from "./Provider.ts"

export const CredentialField = Schema.Literals(["api_key", "access_token", "refresh_token", "webhook_secret"])
export type CredentialField = typeof CredentialField.Type

/**
 * Where a secret belongs. It is the AES-GCM additional data, so a ciphertext
 * opens only in the place it was sealed for.
 */
export class SecretPlace extends Schema.Class<SecretPlace>("SecretPlace")({
  tenantId: TenantId,
  venueId: VenueId,
  provider: Provider,
  field: CredentialField
}) {}

export const additionalData = (place: SecretPlace): string =>
  `integration-service/v1|${place.tenantId}|${place.venueId}|${place.provider}|${place.field}`

/** A secret under envelope encryption: AES-256-GCM ciphertext plus the data key wrapped by a master key. */
export class SealedSecret extends Schema.Class<SealedSecret>("SealedSecret")({
  ciphertext: Schema.Uint8Array,
  iv: Schema.Uint8Array,
  wrappedKey: Schema.Uint8Array,
  keyId: Schema.String
}) {}
