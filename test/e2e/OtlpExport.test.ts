import { createServer } from "node:http"
import { assert, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { spawnService } from "../support/ServiceProcess.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

/** A stand-in OTLP/HTTP collector: keeps what is posted to /v1/traces. */
const collector = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ readonly url: string; readonly bodies: Array<string>; readonly close: () => void }>((resolve) => {
        const bodies: Array<string> = []
        const server = createServer((req, res) => {
          let body = ""
          req.on("data", (chunk: Buffer) => {
            body += chunk.toString("latin1")
          })
          req.on("end", () => {
            if (req.method === "POST" && req.url === "/v1/traces") bodies.push(body)
            res.writeHead(200, { "content-type": "application/json" }).end("{}")
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as { port: number }
          resolve({ url: `http://127.0.0.1:${port}`, bodies, close: () => server.close() })
        })
      })
  ),
  (c) => Effect.sync(c.close)
)

layer(TestDatabaseUrls.layer, { timeout: "90 seconds", excludeTestServices: true })("telemetry export", (it) => {
  it.effect("with OTEL_EXPORTER_OTLP_ENDPOINT set, request spans reach the collector over OTLP/HTTP", () =>
    Effect.gen(function* () {
      const otlp = yield* collector
      const { service, base } = yield* spawnService("integration-otlp-", {
        JWT_SECRET: "otlp-export-secret-0123456789abcdef0123",
        LOCAL_MASTER_KEY: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(5)))}`,
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url
      })
      yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
      yield* service.stop("SIGTERM", "20 seconds")
      const exported = yield* Effect.sync(() => otlp.bodies.join("\n")).pipe(
        Effect.filterOrFail((text) => text.includes("integration-service")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 20 })))
      )
      assert.include(exported, "integration-service")
      assert.include(exported, "/monitoring/health/ready")
    })
  )
})
