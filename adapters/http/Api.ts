import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Connection } from "../../domain/Connection.ts"
import { EntityType } from "../../domain/canonical/EntityType.ts"
import { ConnectionHealth } from "../../domain/Health.ts"
import { VenueId } from "../../domain/Ids.ts"
import { Direction } from "../../domain/mapping/Rule.ts"
import { BrokenRule, MappingStatus } from "../../domain/mapping/SavedMapping.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { Provider } from "../../domain/Provider.ts"
import { StorableText } from "../../domain/Text.ts"
import { AdminGroup } from "./AdminApi.ts"
import { ApiErrors, ServiceUnavailable, Unauthorized } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"
import { ConnectionMetricsGroup } from "./ConnectionMetricsApi.ts"
import { IdempotencyMonitoringGroup } from "./IdempotencyApi.ts"
import { MailchimpSettingsGroup } from "./MailchimpSettingsApi.ts"
import { MappingsGroup } from "./MappingsApi.ts"
import { MonitoringOpsGroup } from "./MonitoringOpsApi.ts"
import { PlatformGroup } from "./PlatformApi.ts"
import { SyncGroup } from "./SyncApi.ts"
import { WebhookEventsGroup } from "./WebhookEventsApi.ts"

export const ApiKey = Schema.RedactedFromValue(Schema.String.check(Schema.isNonEmpty()), { disallowEncode: true })

export const ConnectionResponse = Schema.Struct({
  ...Connection.fields,
  health: Schema.NullOr(ConnectionHealth)
}).annotate({ identifier: "Connection" })

/** One connection in detail: its mappings' state too (`broken` until healed, with the rules that broke). */
export const ConnectionDetailResponse = Schema.Struct({
  ...ConnectionResponse.fields,
  mappingStatus: MappingStatus,
  brokenMappings: Schema.Array(
    Schema.Struct({ entityType: EntityType, direction: Direction, rules: Schema.Array(BrokenRule) })
  )
}).annotate({ identifier: "ConnectionDetail" })

export const TestResponse = Schema.Struct({
  ok: Schema.Boolean,
  latencyMs: Schema.Number,
  error: Schema.NullOr(Schema.String),
  health: ConnectionHealth
}).annotate({ identifier: "ConnectionTest" })

/** What connecting an OAuth provider answers: where to send the user, and until when that link works. */
export const OAuthStartResponse = Schema.Struct({
  authorizationUrl: Schema.String,
  expiresAt: Schema.Date
}).annotate({ identifier: "OAuthStart" })

/** A disconnect; for OAuth, also whether the provider revoked the grant (local secrets are deleted either way). */
export const DisconnectResponse = Schema.Struct({
  ...ConnectionResponse.fields,
  revocation: Schema.optionalKey(Schema.Struct({ revoked: Schema.Boolean, error: Schema.NullOr(Schema.String) }))
}).annotate({ identifier: "Disconnect" })

const providerParam = { provider: Provider }
const venueQuery = { venueId: VenueId }
const venueBody = Schema.Struct({ venueId: VenueId })
const apiKeyBody = Schema.Struct({ venueId: VenueId, apiKey: ApiKey })

export class ConnectionsGroup extends HttpApiGroup.make("connections")
  .add(
    HttpApiEndpoint.get("list", "/", {
      query: { venueId: Schema.optionalKey(VenueId) },
      success: Schema.Array(ConnectionResponse),
      error: ApiErrors
    }),
    HttpApiEndpoint.get("get", "/:provider", {
      params: providerParam,
      query: venueQuery,
      success: ConnectionDetailResponse,
      error: ApiErrors
    }),
    HttpApiEndpoint.post("connect", "/connect/:provider", {
      params: providerParam,
      payload: Schema.Struct({ venueId: VenueId, apiKey: Schema.optionalKey(ApiKey) }),
      success: [ConnectionResponse.pipe(HttpApiSchema.status(201)), OAuthStartResponse],
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("disconnect", "/:provider/disconnect", {
      params: providerParam,
      payload: venueBody,
      success: DisconnectResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("reconnect", "/:provider/reconnect", {
      params: providerParam,
      payload: venueBody,
      success: ConnectionResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage"),
    HttpApiEndpoint.post("replaceApiKey", "/:provider/api-key", {
      params: providerParam,
      payload: apiKeyBody,
      success: ConnectionResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}

export const OAuthCallbackResponse = Schema.Struct({
  status: Schema.Literals(["connected", "denied"]),
  provider: OAuthProviderName,
  venueId: VenueId,
  connection: Schema.NullOr(Connection),
  error: Schema.NullOr(Schema.String)
}).annotate({ identifier: "OAuthCallback" })

export const TokenRefreshResponse = Schema.Struct({
  ...ConnectionResponse.fields,
  accessTokenExpiresAt: Schema.NullOr(Schema.Date)
}).annotate({ identifier: "TokenRefresh" })

/** The provider's redirect back: no JWT, the state is the credential. */
export class OAuthCallbackGroup extends HttpApiGroup.make("oauthCallback")
  .add(
    HttpApiEndpoint.get("callback", "/oauth/callback/:provider", {
      params: { provider: OAuthProviderName },
      query: {
        code: Schema.optionalKey(StorableText),
        state: Schema.optionalKey(StorableText),
        error: Schema.optionalKey(StorableText),
        error_description: Schema.optionalKey(StorableText),
        realmId: Schema.optionalKey(StorableText)
      },
      success: OAuthCallbackResponse,
      error: ApiErrors
    })
  )
  .prefix("/api/v1/integrations") {}

export class OAuthGroup extends HttpApiGroup.make("oauth")
  .add(
    HttpApiEndpoint.post("refresh", "/oauth/refresh/:provider", {
      params: { provider: OAuthProviderName },
      payload: venueBody,
      success: TokenRefreshResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("health", "/health/:provider", {
      params: providerParam,
      query: venueQuery,
      success: ConnectionHealth,
      error: ApiErrors
    }),
    HttpApiEndpoint.post("test", "/health/:provider/test", {
      params: providerParam,
      payload: venueBody,
      success: TestResponse,
      error: ApiErrors
    })
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}

const Probe = Schema.Struct({
  status: Schema.Literals(["ok", "unavailable"]),
  checks: Schema.Record(Schema.String, Schema.String)
})

export class MonitoringGroup extends HttpApiGroup.make("monitoring")
  .add(
    HttpApiEndpoint.get("live", "/health/live", { success: Probe }),
    HttpApiEndpoint.get("ready", "/health/ready", { success: Probe, error: ServiceUnavailable })
  )
  .prefix("/monitoring") {}

export class MonitoringAdminGroup extends HttpApiGroup.make("monitoringAdmin")
  .add(
    // Admins and operators; the handler checks, as the middleware's requirement knows no operator.
    HttpApiEndpoint.get("deep", "/health/deep", { success: Probe, error: [...ApiErrors, Unauthorized] })
  )
  .middleware(Authorization)
  .prefix("/monitoring") {}

export class Api extends HttpApi.make("integration-service")
  .add(ConnectionsGroup)
  .add(HealthGroup)
  .add(MonitoringGroup)
  .add(MonitoringAdminGroup)
  .add(MonitoringOpsGroup)
  .add(AdminGroup)
  .add(IdempotencyMonitoringGroup)
  .add(OAuthCallbackGroup)
  .add(OAuthGroup)
  .add(WebhookEventsGroup)
  .add(MappingsGroup)
  .add(SyncGroup)
  .add(ConnectionMetricsGroup)
  .add(PlatformGroup)
  .add(MailchimpSettingsGroup)
  // The OpenAPI document closes every body (`additionalProperties: false`); decoding refuses unknown fields to match.
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error" })
  .annotateMerge(
    OpenApi.annotations({
      title: "integration-service",
      version: "1.0.0",
      description: "Connects ticketing venues to Stripe, Square, Mailchimp and QuickBooks Online."
    })
  ) {}
