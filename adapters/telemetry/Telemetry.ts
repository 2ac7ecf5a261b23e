import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer, Option } from "effect"

export const serviceName = "integration-service"

/** OpenTelemetry through the Node SDK with the given span processor (tests pass an in-memory one). */
export const layerWith = (spanProcessor: SpanProcessor) =>
  NodeSdk.layer(() => ({ resource: { serviceName, serviceVersion: "0.1.0" }, spanProcessor }))

/** OTLP/HTTP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise spans stay in-process. */
export const TelemetryLive = Layer.unwrap(
  Effect.map(Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")), (endpoint) =>
    Option.match(endpoint, {
      onNone: () => Layer.empty,
      onSome: (base) =>
        layerWith(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base.replace(/\/$/, "")}/v1/traces` })))
    })
  )
)
