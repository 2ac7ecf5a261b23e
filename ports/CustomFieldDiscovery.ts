import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { EntityType } from "../domain/canonical/EntityType.ts"
import type { ProviderUnavailable } from "../domain/Errors.ts"
import type { FieldCatalog } from "../domain/mapping/FieldCatalog.ts"
import type { OAuthGrantRejected, OAuthProviderName, TokenGrant } from "../domain/OAuth.ts"

/** Whose custom fields: the connection's account, opened with its access token. */
export interface DiscoveryRequest {
  readonly provider: OAuthProviderName
  readonly entityType: EntityType
  readonly accessToken: Redacted.Redacted<string>
  /** QuickBooks realm. */
  readonly accountId: string | null
  /** Mailchimp datacenter and API base. */
  readonly extra: TokenGrant["extra"]
  /** The Mailchimp audience the venue chose; null: the account's oldest. */
  readonly audienceId: string | null
}

/**
 * The custom fields an account has defined, as catalog entries with their stable id: Mailchimp merge fields of the
 * audience (`merge_fields.<TAG>`, `merge_id`), QuickBooks sales-form custom fields
 * (`CustomField[DefinitionId=n].StringValue`), Square customer custom attribute definitions
 * (`custom_attributes.<key>.value`, the key). An entity type without custom fields answers an empty catalog.
 * A token the provider refuses (401) is `OAuthGrantRejected`.
 */
export class CustomFieldDiscovery extends Context.Service<
  CustomFieldDiscovery,
  {
    readonly discover: (
      request: DiscoveryRequest
    ) => Effect.Effect<FieldCatalog, OAuthGrantRejected | ProviderUnavailable>
  }
>()("integration-service/ports/CustomFieldDiscovery") {}
