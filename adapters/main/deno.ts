import { Config, Effect, Layer, Runtime, type Scope } from "effect"
import { HttpEffect, HttpRouter, HttpServer, HttpServerError, type HttpServerRequest } from "effect/http"
import { NetAddress } from "effect/net"
import { TelemetryLive } from "../telemetry/Telemetry.ts"
import { HttpRoutes, processFor } from "./App.ts"
import { exitOnListenFailure } from "./ListenFailure.ts"
import { SecretsManagerConfig } from "./SecretsManagerConfig.ts"
import { DrainTimeoutConfig, withShutdownDeadline } from "./ShutdownDeadline.ts"

// Just what this file uses, so node's tsc checks it without Deno's types.
interface DenoServer {
  readonly addr: { readonly hostname: string; readonly port: number }
  readonly shutdown: () => Promise<void>
}
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen: () => void },
    handler: (request: Request) => Promise<Response>
  ): DenoServer
  addSignalListener(signal: "SIGINT" | "SIGTERM", listener: () => void): void
  removeSignalListener(signal: "SIGINT" | "SIGTERM", listener: () => void): void
  exit(code: number): never
}

/**
 * `Deno.serve` as an Effect `HttpServer`. It listens when built and answers
 * once the router is installed; closing drains in-flight requests (bounded like
 * the Node server's graceful shutdown) before the services behind it close.
 */
const DenoHttpServer = Layer.effect(
  HttpServer.HttpServer,
  Effect.gen(function* () {
    const port = yield* Config.Port("PORT").pipe(Config.withDefault(8080))
    const hostname = yield* Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
    const drainTimeout = yield* DrainTimeoutConfig
    const { promise: installed, resolve: install } = Promise.withResolvers<(request: Request) => Promise<Response>>()
    const server = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          Deno.serve({ port, hostname, onListen: () => {} }, (request) => installed.then((handle) => handle(request))),
        // Shaped like Node's listen error, so both entry points report it on the same line.
        catch: (cause) =>
          new HttpServerError.ServeError({
            cause: {
              code: cause instanceof Error && cause.name === "AddrInUse" ? "EADDRINUSE" : undefined,
              address: hostname,
              port,
              message: cause instanceof Error ? cause.message : String(cause)
            }
          })
      }),
      (server) => Effect.promise(() => server.shutdown()).pipe(Effect.timeout(drainTimeout), Effect.ignore)
    )
    return HttpServer.make({
      address: NetAddress.inetAddressFromIpStringUnsafe(server.addr.hostname, server.addr.port),
      serve: (httpEffect, middleware) =>
        Effect.map(Effect.context<never>(), (context) =>
          install(
            HttpEffect.toWebHandlerWith<never, Scope.Scope | HttpServerRequest.HttpServerRequest>(context)(
              httpEffect,
              middleware
            )
          )
        )
    })
  })
).pipe(Layer.provideMerge(HttpServer.layerServices))

/** Like NodeRuntime.runMain: SIGINT/SIGTERM interrupt the main fiber, whose finalizers shut down in order. */
const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  const interrupt = () => fiber.interruptUnsafe(fiber.id)
  Deno.addSignalListener("SIGINT", interrupt)
  Deno.addSignalListener("SIGTERM", interrupt)
  fiber.addObserver((exit) => {
    Deno.removeSignalListener("SIGINT", interrupt)
    Deno.removeSignalListener("SIGTERM", interrupt)
    teardown(exit, (code) => Deno.exit(code))
  })
})

const Main = processFor(HttpRouter.serve(HttpRoutes).pipe(Layer.provide(DenoHttpServer))).pipe(
  Layer.provide(TelemetryLive),
  Layer.provide(SecretsManagerConfig)
)

runMain(withShutdownDeadline(exitOnListenFailure(Layer.launch(Main))))
