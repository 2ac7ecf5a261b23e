import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Duration, Effect, Layer, Option } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpMetrics, OtlpSerialization } from "effect/observability"

export const serviceName = "integration-service"

/** OpenTelemetry through the Node SDK with the given span processor (tests pass an in-memory one). */
export const layerWith = (spanProcessor: SpanProcessor) =>
  NodeSdk.layer(() => ({ resource: { serviceName, serviceVersion: "0.1.0" }, spanProcessor }))

/**
 * Effect's metrics (the ones `GET /metrics` shows) to `<base>/v1/metrics`, cumulative, every
 * `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 10 s) and once more at shutdown.
 */
const metricsExport = (base: string) =>
  Layer.unwrap(
    Effect.map(Config.option(Config.Int("OTEL_METRIC_EXPORT_INTERVAL")), (interval) =>
      OtlpMetrics.layer({
        url: `${base}/v1/metrics`,
        resource: { serviceName, serviceVersion: "0.1.0" },
        exportInterval: Option.getOrUndefined(Option.map(interval, Duration.millis))
      })
    )
  ).pipe(Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]))

/** OTLP/HTTP export of spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise both stay in-process. */
export const TelemetryLive = Layer.unwrap(
  Effect.map(Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")), (endpoint) =>
    Option.match(endpoint, {
      onNone: () => Layer.empty,
      onSome: (url) => {
        const base = url.replace(/\/$/, "")
        return Layer.merge(
          layerWith(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))),
          metricsExport(base)
        )
      }
    })
  )
)
