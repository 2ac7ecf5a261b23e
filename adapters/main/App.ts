import { Layer } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { Connections } from "../../application/Connections.ts"
import { Api } from "../http/Api.ts"
import { AuthorizationLive } from "../http/AuthorizationLive.ts"
import { ConnectionsHttp } from "../http/ConnectionsHttp.ts"
import { HealthHttp } from "../http/HealthHttp.ts"
import { MonitoringAdminHttp, MonitoringHttp } from "../http/MonitoringHttp.ts"
import { RequestContext } from "../http/RequestContext.ts"
import { WebhookEventsHttp, WebhookReceiveRoutes } from "../http/WebhooksHttp.ts"
import { layerVaultFromConfig } from "../kms/KeyManagementConfig.ts"
import { PostgresConnectionStore } from "../postgres/PostgresConnectionStore.ts"
import { PostgresStoreHealth } from "../postgres/PostgresStoreHealth.ts"
import { StripeGateway } from "../providers/StripeGateway.ts"
import { TokenVerifierLive } from "./Auth.ts"
import { DatabaseLive } from "./Database.ts"
import { WebhookAdapters, WebhookUseCases } from "./Webhooks.ts"

/** The HTTP surface: the API, its OpenAPI document and Scalar docs, request ids and JSON errors. */
export const HttpRoutes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }),
  HttpApiScalar.layer(Api, { path: "/docs" }),
  RequestContext,
  WebhookReceiveRoutes
).pipe(
  Layer.provide([ConnectionsHttp, HealthHttp, MonitoringHttp, MonitoringAdminHttp, WebhookEventsHttp]),
  Layer.provide(AuthorizationLive)
)

/** Every adapter chosen from configuration, with the use cases on top. Built before the socket listens. */
export const Services = Layer.mergeAll(Connections.layer, WebhookUseCases).pipe(
  Layer.provideMerge(
    Layer.mergeAll(PostgresConnectionStore.layer, PostgresStoreHealth.layer, WebhookAdapters).pipe(
      Layer.provideMerge(DatabaseLive)
    )
  ),
  Layer.provideMerge(Layer.mergeAll(layerVaultFromConfig, StripeGateway.layer, TokenVerifierLive))
)
