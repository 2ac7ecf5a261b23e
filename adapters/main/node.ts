import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { TelemetryLive } from "../telemetry/Telemetry.ts"
import { HttpRoutes, Services } from "./App.ts"

// Order matters: telemetry is outermost so every span is exported; services
// (database pool, migrations, key management) are built before the socket
// listens, so no request can arrive before they exist.
const Main = HttpRouter.serve(HttpRoutes).pipe(
  Layer.provide(
    NodeHttpServer.layerConfig(createServer, {
      port: Config.Port("PORT").pipe(Config.withDefault(8080)),
      host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1")),
      gracefulShutdownTimeout: Config.succeed("20 seconds")
    })
  ),
  Layer.provide(Services),
  Layer.provide(TelemetryLive)
)

NodeRuntime.runMain(Layer.launch(Main))
