import { Effect, Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { AccessTokenCheck } from "../../application/AccessTokenCheck.ts"
import { Connections } from "../../application/Connections.ts"
import { CredentialCheck } from "../../application/CredentialCheck.ts"
import { MailchimpAudience } from "../../application/MailchimpAudience.ts"
import { Mappings } from "../../application/mappings/Mappings.ts"
import { NeedsReauth } from "../../application/NeedsReauth.ts"
import { OAuthConnections } from "../../application/OAuthConnections.ts"
import { ConnectionMetrics } from "../../application/operations/ConnectionMetrics.ts"
import { HealthMonitor, HealthMonitorFiber } from "../../application/operations/HealthMonitor.ts"
import { NotificationDelivery, NotificationDeliveryFiber } from "../../application/operations/NotificationDelivery.ts"
import { PlatformData } from "../../application/platform/PlatformData.ts"
import { TokenRefresher, TokenRefresherFiber } from "../../application/TokenRefresher.ts"
import { TokenVault } from "../../application/TokenVault.ts"
import { Api } from "../http/Api.ts"
import { ApiDocs } from "../http/ApiDocs.ts"
import { ApiRateLimit } from "../http/ApiRateLimit.ts"
import { AuthorizationLive } from "../http/AuthorizationLive.ts"
import { BodyLimit } from "../http/BodyLimit.ts"
import { ConnectionMetricsHttp } from "../http/ConnectionMetricsHttp.ts"
import { ConnectionsHttp } from "../http/ConnectionsHttp.ts"
import { HealthHttp } from "../http/HealthHttp.ts"
import { HttpMetrics } from "../http/HttpMetrics.ts"
import { IdempotencyHttp } from "../http/IdempotencyHttp.ts"
import { IdempotencyKeys } from "../http/IdempotencyKeys.ts"
import { MailchimpSettingsHttp } from "../http/MailchimpSettingsHttp.ts"
import { MappingsHttp } from "../http/MappingsHttp.ts"
import { MetricsRoute } from "../http/MetricsRoute.ts"
import { OAuthCallbackHttp, OAuthHttp, OAuthUrlRedaction } from "../http/OAuthHttp.ts"
import { PlatformHttp } from "../http/PlatformHttp.ts"
import { RequestContext } from "../http/RequestContext.ts"
import { ServerErrorLog } from "../http/ServerErrorLog.ts"
import { SyncHttp } from "../http/SyncHttp.ts"
import { WebhookEventsHttp, WebhookReceiveRoutes } from "../http/WebhooksHttp.ts"
import { layerVaultFromConfig } from "../kms/KeyManagementConfig.ts"
import { StandardWebhookSender } from "../notify/StandardWebhookSender.ts"
import { PostgresApiIdempotency } from "../postgres/PostgresApiIdempotency.ts"
import { PostgresCallLedger } from "../postgres/PostgresCallLedger.ts"
import { PostgresConnectionActivity } from "../postgres/PostgresConnectionActivity.ts"
import { PostgresConnectionSettingsStore } from "../postgres/PostgresConnectionSettingsStore.ts"
import { PostgresConnectionStore } from "../postgres/PostgresConnectionStore.ts"
import { PostgresEventPublisher } from "../postgres/PostgresEventPublisher.ts"
import { PostgresHealthStore } from "../postgres/PostgresHealthStore.ts"
import { PostgresMappingStore } from "../postgres/PostgresMappingStore.ts"
import { PostgresMappingTemplates } from "../postgres/PostgresMappingTemplates.ts"
import { PostgresNotificationOutbox } from "../postgres/PostgresNotificationOutbox.ts"
import { PostgresOAuthStateStore } from "../postgres/PostgresOAuthStateStore.ts"
import { PostgresPlatformRecords } from "../postgres/PostgresPlatformRecords.ts"
import { PostgresStoreHealth } from "../postgres/PostgresStoreHealth.ts"
import { PostgresTokenStore } from "../postgres/PostgresTokenStore.ts"
import { MailchimpAudiences } from "../providers/MailchimpAudiences.ts"
import { SdkOAuthProviders } from "../providers/OAuthProviders.ts"
import { SdkCustomFieldDiscovery } from "../providers/SdkCustomFieldDiscovery.ts"
import { SdkHealthProbe } from "../providers/SdkHealthProbe.ts"
import { StripeGateway } from "../providers/StripeGateway.ts"
import { TokenVerifierLive } from "./Auth.ts"
import { DatabaseLive } from "./Database.ts"
import { OperationsHttp } from "./Operations.ts"
import { RateLimiterLive } from "./RateLimiting.ts"
import { SyncAdapters, SyncUseCases, SyncWorkerLive } from "./Sync.ts"
import { Role, WebhookAdapters, WebhookUseCases, WebhookWorkerLive } from "./Webhooks.ts"

/** The HTTP surface: the API, its OpenAPI document and Scalar docs, request ids and JSON errors, `/metrics`. */
export const HttpRoutes = Layer.mergeAll(
  HttpApiBuilder.layer(Api),
  ApiDocs,
  RequestContext,
  BodyLimit,
  WebhookReceiveRoutes,
  MetricsRoute
).pipe(
  // Every request through the router counted and timed by route template.
  Layer.provide(HttpMetrics.layer),
  // Idempotency-Key on state-changing API requests: a repeat answered from the first answer.
  Layer.provide(IdempotencyKeys),
  Layer.provide([
    ConnectionsHttp,
    HealthHttp,
    OperationsHttp,
    ConnectionMetricsHttp,
    IdempotencyHttp,
    WebhookEventsHttp,
    MappingsHttp,
    SyncHttp,
    PlatformHttp,
    MailchimpSettingsHttp,
    OAuthHttp,
    OAuthCallbackHttp
  ]),
  Layer.provide(AuthorizationLive.pipe(Layer.provide(ApiRateLimit.layer))),
  // Handlers report their 5xx and defects; this writes each as an error line with its cause.
  Layer.provide(ServerErrorLog.layer)
)

/** Every adapter chosen from configuration, with the use cases on top. Built before the socket listens. */
export const Services = Layer.mergeAll(
  Connections.layer,
  PlatformData.layer,
  ConnectionMetrics.layer,
  WebhookUseCases,
  OAuthConnections.layer,
  // A sample of the stored credentials opened with the configured master key: at start-up and in the deep check.
  CredentialCheck.atStartup.pipe(Layer.provideMerge(CredentialCheck.layer))
).pipe(
  // The token lifecycle: one vault hands out access tokens; the refresher renews idle ones in the background.
  Layer.provideMerge(Layer.mergeAll(TokenRefresher.layer, AccessTokenCheck.layer, MailchimpAudience.layer)),
  // Field mappings: versioned rules, templates and the accounts' custom fields.
  Layer.provideMerge(Mappings.layer),
  // Inbound sync: jobs, the engine and its provider calls.
  Layer.provideMerge(SyncUseCases),
  Layer.provideMerge(TokenVault.layer),
  // Every path to needs_reauth: the status and one published event.
  Layer.provideMerge(NeedsReauth.layer),
  Layer.provideMerge(
    Layer.mergeAll(
      PostgresConnectionStore.layer,
      PostgresConnectionSettingsStore.layer,
      PostgresStoreHealth.layer,
      WebhookAdapters,
      PostgresTokenStore.layer,
      PostgresOAuthStateStore.layer,
      PostgresEventPublisher.layer,
      PostgresMappingStore.layer,
      PostgresMappingTemplates.layer,
      PostgresPlatformRecords.layer,
      PostgresApiIdempotency.layer,
      PostgresCallLedger.layer,
      PostgresConnectionActivity.layer,
      PostgresNotificationOutbox.layer,
      SyncAdapters
    ).pipe(Layer.provideMerge(DatabaseLive))
  ),
  Layer.provideMerge(
    Layer.mergeAll(
      layerVaultFromConfig,
      StripeGateway.layer,
      MailchimpAudiences.layer,
      TokenVerifierLive,
      RateLimiterLive,
      SdkOAuthProviders.layer,
      SdkCustomFieldDiscovery.layer,
      OAuthUrlRedaction
    )
  )
)

/**
 * What runs without HTTP: the webhook worker with its inbox reconciler, the token refresher, the sync worker, the
 * health monitor and the notification delivery.
 */
export const BackgroundWork = Layer.mergeAll(
  WebhookWorkerLive,
  TokenRefresherFiber,
  SyncWorkerLive,
  // Health checks of every connection, and the notifications of what changed (the health store publishes each
  // transition's event through the EventPublisher of Services).
  Layer.mergeAll(HealthMonitorFiber, NotificationDeliveryFiber).pipe(
    Layer.provide(
      Layer.mergeAll(
        HealthMonitor.layer.pipe(Layer.provide([SdkHealthProbe.layer, PostgresHealthStore.layer])),
        NotificationDelivery.layer.pipe(Layer.provide(StandardWebhookSender.layer))
      )
    )
  )
)

/**
 * The process for `ROLE`: `api` serves HTTP, `worker` runs the background work, `all` (default) both. Services
 * (pool, migrations, key management) are built before the socket listens, so no request arrives before they exist.
 */
export const processFor = <E, R>(http: Layer.Layer<never, E, R>) =>
  Layer.unwrap(
    Effect.map(Role, (role) =>
      Layer.mergeAll(role === "worker" ? Layer.empty : http, role === "api" ? Layer.empty : BackgroundWork)
    )
  ).pipe(Layer.provide(Services))
