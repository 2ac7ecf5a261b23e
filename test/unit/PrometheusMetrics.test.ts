import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { recordWebhookReply } from "../../adapters/http/WebhookMetrics.ts"
import {
  providerCallOutcome,
  recordHttpRequest,
  recordProviderCall,
  recordTokenRefresh
} from "../../application/Metrics.ts"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import { ProviderCallFailed } from "../../ports/sync/ProviderData.ts"
import { type Family, parsePrometheusText, sumOf } from "../support/PrometheusText.ts"

/** What the exposition of the instruments recorded by `program` reads, in a registry of its own. */
const exposed = <E>(program: Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    yield* program
    return parsePrometheusText(yield* PrometheusMetrics.format())
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const typeOf = (families: ReadonlyArray<Family>, name: string) => families.find((f) => f.name === name)?.type

describe("Prometheus text format: the test's reader", () => {
  const valid = [
    "# HELP http_requests_total The total number of HTTP requests.",
    "# TYPE http_requests_total counter",
    'http_requests_total{method="post",code="200"} 1027 1395066363000',
    'http_requests_total{method="post",code="400"}    3 1395066363000',
    "# A comment",
    'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
    "# TYPE rpc_duration_seconds histogram",
    'rpc_duration_seconds_bucket{le="0.05"} 24054',
    'rpc_duration_seconds_bucket{le="0.1"} 33444',
    'rpc_duration_seconds_bucket{le="+Inf"} 144320',
    "rpc_duration_seconds_sum 53423",
    "rpc_duration_seconds_count 144320",
    "# TYPE temperature gauge",
    "temperature -Inf",
    ""
  ].join("\n")

  it("reads the format's own example: families, types, escapes, histogram series", () => {
    const families = parsePrometheusText(valid)
    assert.deepStrictEqual(
      families.map((f) => [f.name, f.type]),
      [
        ["http_requests_total", "counter"],
        ["msdos_file_access_time_seconds", "untyped"],
        ["rpc_duration_seconds", "histogram"],
        ["temperature", "gauge"]
      ]
    )
    assert.strictEqual(families[0]!.help, "The total number of HTTP requests.")
    assert.strictEqual(sumOf(families, "http_requests_total", { code: "400" }), 3)
    assert.deepStrictEqual(families[1]!.samples[0]!.labels, {
      path: "C:\\DIR\\FILE.TXT",
      error: 'Cannot find file:\n"FILE.TXT"'
    })
    assert.strictEqual(sumOf(families, "rpc_duration_seconds_count"), 144320)
  })

  const broken: ReadonlyArray<[string, string]> = [
    ["no trailing newline", "# TYPE a counter\na 1"],
    ["a family split in two", '# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n'],
    ["TYPE after the samples", "a 1\n# TYPE a counter\n"],
    ["a second TYPE", "# TYPE a counter\n# TYPE a counter\na 1\n"],
    ["an unknown type", "# TYPE a countr\na 1\n"],
    ["a series twice", '# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n'],
    ["a counter below zero", "# TYPE a counter\na -1\n"],
    ["a bad label escape", 'a{x="\\t"} 1\n'],
    ["an unterminated label", 'a{x="1} 1\n'],
    ["a bad value", "a one\n"],
    ["a bad metric name", "1a 1\n"],
    [
      "buckets that decrease",
      '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 4\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n'
    ],
    ["no +Inf bucket", '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n'],
    ["+Inf unequal to _count", '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 6\n'],
    ["no _sum", '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_count 5\n']
  ]
  for (const [problem, text] of broken) {
    it(`refuses ${problem}`, () => {
      assert.throws(() => parsePrometheusText(text))
    })
  }
})

describe("the service's instruments in Effect's Prometheus exposition", () => {
  it.effect("HTTP requests: a counter and a histogram by method, route template and status class", () =>
    Effect.gen(function* () {
      const families = yield* exposed(
        Effect.all([
          recordHttpRequest({ method: "GET", route: "/api/v1/integrations/connections/:id", status: 200 }, 0.02),
          recordHttpRequest({ method: "GET", route: "/api/v1/integrations/connections/:id", status: 404 }, 0.2),
          recordHttpRequest({ method: "GET", route: "/api/v1/integrations/connections/:id", status: 204 }, 3)
        ])
      )
      assert.strictEqual(typeOf(families, "http_server_requests_total"), "counter")
      assert.strictEqual(typeOf(families, "http_server_request_duration_seconds"), "histogram")
      const route = { route: "/api/v1/integrations/connections/:id" }
      assert.strictEqual(sumOf(families, "http_server_requests_total", { ...route, status_class: "2xx" }), 2)
      assert.strictEqual(sumOf(families, "http_server_requests_total", { ...route, status_class: "4xx" }), 1)
      const ok = { ...route, status_class: "2xx" }
      assert.strictEqual(sumOf(families, "http_server_request_duration_seconds_bucket", { ...ok, le: "0.025" }), 1)
      assert.strictEqual(sumOf(families, "http_server_request_duration_seconds_bucket", { ...ok, le: "+Inf" }), 2)
      assert.strictEqual(sumOf(families, "http_server_request_duration_seconds_sum", ok), 3.02)
    })
  )

  it.effect("webhook deliveries by outcome, read off the reply; events of acknowledged ones by outcome", () =>
    Effect.gen(function* () {
      const families = yield* exposed(
        Effect.all([
          recordWebhookReply("stripe", {
            status: 200,
            body: { received: true, stored: 1, duplicates: 0, unroutable: 0 }
          }),
          recordWebhookReply("stripe", {
            status: 200,
            body: { received: true, stored: 0, duplicates: 1, unroutable: 0 }
          }),
          recordWebhookReply("quickbooks", {
            status: 200,
            body: { received: true, stored: 2, duplicates: 1, unroutable: 0 }
          }),
          recordWebhookReply("stripe", {
            status: 200,
            body: { received: true, stored: 0, duplicates: 0, unroutable: 1 }
          }),
          recordWebhookReply("stripe", { status: 401, body: undefined }),
          recordWebhookReply("square", { status: 400, body: {} }),
          recordWebhookReply("square", { status: 429, body: {} }),
          recordWebhookReply("square", { status: 503, body: {} })
        ])
      )
      const deliveries = (provider: string, outcome: string) =>
        sumOf(families, "webhook_deliveries_total", { provider, outcome })
      assert.strictEqual(deliveries("stripe", "accepted"), 1)
      assert.strictEqual(deliveries("stripe", "duplicate"), 1)
      assert.strictEqual(deliveries("stripe", "unroutable"), 1)
      assert.strictEqual(deliveries("stripe", "unauthorized"), 1)
      assert.strictEqual(deliveries("quickbooks", "accepted"), 1)
      assert.strictEqual(deliveries("square", "malformed"), 1)
      assert.strictEqual(deliveries("square", "rate_limited"), 1)
      assert.strictEqual(deliveries("square", "unavailable"), 1)
      assert.strictEqual(sumOf(families, "webhook_deliveries_total"), 8, "received = the sum over outcomes")
      assert.strictEqual(sumOf(families, "webhook_events_total", { provider: "quickbooks", outcome: "stored" }), 2)
      assert.strictEqual(sumOf(families, "webhook_events_total", { provider: "quickbooks", outcome: "duplicate" }), 1)
    })
  )

  it.effect("token refreshes by outcome: success, rejected, unavailable; an interrupted one is not counted", () =>
    Effect.gen(function* () {
      const refresh = recordTokenRefresh("square")
      const families = yield* exposed(
        Effect.all([
          refresh(Effect.succeed("tokens")),
          Effect.ignore(
            refresh(Effect.fail(new OAuthGrantRejected({ provider: "square", code: "invalid_grant", message: "dead" })))
          ),
          Effect.ignore(
            refresh(Effect.fail(new ProviderUnavailable({ provider: "square", message: "503", retryable: true })))
          ),
          Effect.forkChild(refresh(Effect.never)).pipe(
            Effect.tap(() => Effect.yieldNow),
            Effect.flatMap(Fiber.interrupt)
          )
        ])
      )
      assert.strictEqual(sumOf(families, "oauth_token_refreshes_total", { provider: "square", outcome: "success" }), 1)
      assert.strictEqual(sumOf(families, "oauth_token_refreshes_total", { provider: "square", outcome: "rejected" }), 1)
      assert.strictEqual(
        sumOf(families, "oauth_token_refreshes_total", { provider: "square", outcome: "unavailable" }),
        1
      )
      assert.strictEqual(sumOf(families, "oauth_token_refreshes_total"), 3)
    })
  )

  it.effect("provider calls by provider, operation and outcome, with their duration", () =>
    Effect.gen(function* () {
      const list = recordProviderCall("quickbooks", "list_customers")
      const failed = (kind: "rate_limited" | "unavailable") =>
        new ProviderCallFailed({ provider: "quickbooks", kind, status: 429, retryAfterMillis: 60_000, message: kind })
      const families = yield* exposed(
        Effect.all([
          list(Effect.succeed([])),
          list(Effect.succeed([])),
          Effect.ignore(list(Effect.fail(failed("rate_limited")))),
          Effect.ignore(Effect.exit(list(Effect.die("bug"))))
        ])
      )
      const calls = (outcome: string) =>
        sumOf(families, "provider_calls_total", { provider: "quickbooks", operation: "list_customers", outcome })
      assert.strictEqual(calls("success"), 2)
      assert.strictEqual(calls("rate_limited"), 1)
      assert.strictEqual(calls("defect"), 1)
      assert.strictEqual(typeOf(families, "provider_call_duration_seconds"), "histogram")
      assert.strictEqual(
        sumOf(families, "provider_call_duration_seconds_count", { provider: "quickbooks", outcome: "success" }),
        2
      )
    })
  )

  it("names a typed failure without a kind by its tag in snake case", () => {
    const exit = Effect.runSyncExit(
      Effect.fail(new ProviderUnavailable({ provider: "stripe", message: "down", retryable: true }))
    )
    assert.strictEqual(providerCallOutcome(exit), "provider_unavailable")
  })
})
