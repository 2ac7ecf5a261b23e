import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { WebhookFastPath } from "../http/WebhookFastPath.ts"
import { TelemetryLive } from "../telemetry/Telemetry.ts"
import { NodeHmac } from "../webhook/NodeHmac.ts"
import { HttpRoutes, processFor } from "./App.ts"
import { exitOnListenFailure } from "./ListenFailure.ts"
import { SecretsManagerConfig } from "./SecretsManagerConfig.ts"
import { DrainTimeoutConfig, withShutdownDeadline } from "./ShutdownDeadline.ts"

const HttpLive = (logRequests: boolean) =>
  HttpRouter.serve(HttpRoutes, { disableLogger: !logRequests }).pipe(
    Layer.provide(
      // Webhook deliveries are answered ahead of the router (Deno serves them through the router's raw routes).
      WebhookFastPath.layerServer({
        port: Config.Port("PORT").pipe(Config.withDefault(8080)),
        host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1")),
        gracefulShutdownTimeout: DrainTimeoutConfig,
        // Several ROLE=api processes may share the port (SO_REUSEPORT, Linux): the kernel spreads connections.
        reusePort: Config.Boolean("HTTP_REUSE_PORT").pipe(Config.withDefault(false))
      })
    )
  )

// Telemetry is outermost so every span is exported; webhook signatures are checked with node:crypto. Settings
// from AWS Secrets Manager (AWS_SECRETS_ID) sit under the environment for every layer, telemetry included.
const Main = Layer.unwrap(
  Effect.map(Config.Boolean("HTTP_REQUEST_LOG").pipe(Config.withDefault(true)), (logRequests) =>
    processFor(HttpLive(logRequests))
  )
).pipe(Layer.provide(NodeHmac.layer), Layer.provide(TelemetryLive), Layer.provide(SecretsManagerConfig))

NodeRuntime.runMain(withShutdownDeadline(exitOnListenFailure(Layer.launch(Main))))
