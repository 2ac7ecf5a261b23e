import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { TelemetryLive } from "../telemetry/Telemetry.ts"
import { HttpRoutes, Services } from "./App.ts"
import { Role, WebhookWorkerLive } from "./Webhooks.ts"

const HttpLive = (logRequests: boolean) =>
  HttpRouter.serve(HttpRoutes, { disableLogger: !logRequests }).pipe(
    Layer.provide(
      NodeHttpServer.layerConfig(createServer, {
        port: Config.Port("PORT").pipe(Config.withDefault(8080)),
        host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1")),
        gracefulShutdownTimeout: Config.succeed("20 seconds")
      })
    )
  )

// ROLE=api serves HTTP, ROLE=worker processes queued webhooks (and reconciles the inbox), ROLE=all (default) both.
// Order matters: telemetry is outermost so every span is exported; services
// (database pool, migrations, key management) are built before the socket
// listens, so no request can arrive before they exist.
const Main = Layer.unwrap(
  Effect.gen(function* () {
    const role = yield* Role
    const logRequests = yield* Config.Boolean("HTTP_REQUEST_LOG").pipe(Config.withDefault(true))
    return Layer.mergeAll(
      role === "worker" ? Layer.empty : HttpLive(logRequests),
      role === "api" ? Layer.empty : WebhookWorkerLive
    )
  })
).pipe(Layer.provide(Services), Layer.provide(TelemetryLive))

NodeRuntime.runMain(Layer.launch(Main))
