import { createHmac } from "node:crypto"
import { createServer } from "node:http"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { webhookPath } from "../../adapters/http/WebhooksHttp.ts"
import { type Family, parsePrometheusText, sumOf } from "../support/PrometheusText.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { type Caller, call, testAppWith } from "../support/TestApp.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const metricsToken = "metrics-scrape-token-5b1e9d2c7a"
const stripeSecret = "whsec_metrics_e2e"
const tenant = "eeeeeeee-0000-4000-8000-00000000000e"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const viewer: Caller = { tenantId: tenant, venueIds: [], role: "viewer" }

const App = testAppWith(Effect.succeed({ METRICS_TOKEN: metricsToken, STRIPE_WEBHOOK_SECRET: stripeSecret }))

/** A scrape as Prometheus makes it (static bearer), parsed strictly. */
const scrape = Effect.gen(function* () {
  const reply = yield* call("GET", "/metrics", { token: metricsToken })
  assert.strictEqual(reply.status, 200, reply.text)
  assert.match(reply.headers["content-type"] ?? "", /^text\/plain; version=0\.0\.4/)
  return parsePrometheusText(reply.text)
})

const deliverStripe = (raw: string, signed: boolean) =>
  Effect.gen(function* () {
    const t = Math.floor(Date.now() / 1000)
    const mac = createHmac("sha256", signed ? stripeSecret : "whsec_someone_else")
      .update(`${t}.${raw}`)
      .digest("hex")
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(`${webhookPath}/stripe`).pipe(
        HttpClientRequest.setHeaders({ "stripe-signature": `t=${t},v1=${mac}` }),
        HttpClientRequest.bodyText(raw, "application/json")
      )
    )
    return response.status
  }).pipe(Effect.orDie)

const requests = (families: ReadonlyArray<Family>, labels: Record<string, string>) =>
  sumOf(families, "http_server_requests_total", labels)

layer(App, { timeout: "60 seconds", excludeTestServices: true })("GET /metrics (in process)", (it) => {
  it.effect("is refused without METRICS_TOKEN or an admin JWT", () =>
    Effect.gen(function* () {
      const missing = yield* call("GET", "/metrics")
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(missing.body.code, "MissingToken")
      const wrong = yield* call("GET", "/metrics", { token: `${metricsToken}x` })
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual(wrong.body.code, "InvalidToken")
      assert.strictEqual((yield* call("GET", "/metrics", { caller: viewer })).status, 403)
      const asAdmin = yield* call("GET", "/metrics", { caller: admin })
      assert.strictEqual(asAdmin.status, 200)
      assert.notInclude(asAdmin.text, metricsToken)
    })
  )

  it.effect("counts requests by route template and status class, times them, and parses as the text format", () =>
    Effect.gen(function* () {
      const before = yield* scrape
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* call("GET", "/monitoring/health/live")).status, 200)
      const id = crypto.randomUUID()
      // Refused by the API (no venue, then a provider no schema accepts): one route template, whatever the path.
      for (const provider of ["stripe", `x${id}`]) {
        const refused = yield* call("GET", `/api/v1/integrations/${provider}`, { caller: admin })
        assert.strictEqual(Math.floor(refused.status / 100), 4, refused.text)
      }
      assert.strictEqual((yield* call("GET", `/no/such/route/${id}`)).status, 404)
      const event = `{"id":"evt_metrics_${id}","object":"event","type":"customer.updated","created":1790000000,"account":"acct_metrics","data":{"object":{"id":"cus_1","object":"customer"}}}`
      assert.strictEqual(yield* deliverStripe(event, true), 200)
      assert.strictEqual(yield* deliverStripe(event, false), 401)
      const after = yield* scrape

      const types = new Map(after.map((f) => [f.name, f.type]))
      assert.strictEqual(types.get("http_server_requests_total"), "counter")
      assert.strictEqual(types.get("http_server_request_duration_seconds"), "histogram")
      assert.strictEqual(types.get("http_server_active_requests"), "gauge")
      assert.isTrue(
        after.every((f) => f.help !== undefined && f.help !== ""),
        "every family has HELP"
      )

      const moved = (labels: Record<string, string>) => requests(after, labels) - requests(before, labels)
      const live = { method: "GET", route: "/monitoring/health/live", status_class: "2xx" }
      assert.strictEqual(moved(live), 3)
      assert.strictEqual(
        moved({ method: "GET", route: "/api/v1/integrations/:provider", status_class: "4xx" }),
        2,
        "the route template, not the id"
      )
      assert.strictEqual(moved({ route: "unmatched", status_class: "4xx" }), 1)
      const webhooks = { method: "POST", route: `${webhookPath}/:provider` }
      assert.strictEqual(moved({ ...webhooks, status_class: "2xx" }), 1)
      assert.strictEqual(moved({ ...webhooks, status_class: "4xx" }), 1)
      assert.isFalse(
        after.some((f) => f.samples.some((s) => Object.values(s.labels).some((v) => v.includes(id)))),
        "no label carries an id"
      )

      const timed = (families: ReadonlyArray<Family>) =>
        sumOf(families, "http_server_request_duration_seconds_count", live)
      assert.strictEqual(timed(after) - timed(before), 3)
      assert.isAbove(sumOf(after, "http_server_request_duration_seconds_sum", live), 0)
      assert.isAtLeast(sumOf(after, "http_server_active_requests"), 1, "the scrape itself is in flight")
      const scrapes = { method: "GET", route: "/metrics", status_class: "2xx" }
      assert.strictEqual(moved(scrapes), 1, "the scrape before this one")
    })
  )
})

/** A stand-in OTLP/HTTP collector: keeps the JSON bodies posted to /v1/metrics. */
const collector = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ readonly url: string; readonly bodies: Array<string>; readonly close: () => void }>((resolve) => {
        const bodies: Array<string> = []
        const server = createServer((req, res) => {
          let body = ""
          req.on("data", (chunk: Buffer) => {
            body += chunk.toString("utf8")
          })
          req.on("end", () => {
            if (req.method === "POST" && req.url === "/v1/metrics") bodies.push(body)
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

interface OtlpMetric {
  readonly name: string
  readonly sum?: { readonly dataPoints: ReadonlyArray<OtlpPoint>; readonly isMonotonic?: boolean }
  readonly histogram?: { readonly dataPoints: ReadonlyArray<OtlpPoint> }
}
interface OtlpPoint {
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: { readonly stringValue?: string } }>
  readonly asInt?: number | string
  readonly asDouble?: number
  readonly count?: number | string
}

const otlpMetrics = (body: string): ReadonlyArray<OtlpMetric> =>
  (
    JSON.parse(body) as {
      resourceMetrics: ReadonlyArray<{ scopeMetrics: ReadonlyArray<{ metrics: ReadonlyArray<OtlpMetric> }> }>
    }
  ).resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))

const attribute = (point: OtlpPoint, key: string) => point.attributes.find((a) => a.key === key)?.value.stringValue

describe("the service process", () => {
  layer(TestDatabaseUrls.layer, { timeout: "90 seconds", excludeTestServices: true })("metrics export", (it) => {
    it.effect("serves /metrics on its port and pushes the same instruments over OTLP/HTTP", () =>
      Effect.gen(function* () {
        const otlp = yield* collector
        const { service, base } = yield* spawnService("integration-metrics-", {
          JWT_SECRET: "metrics-export-secret-0123456789abcdef0",
          LOCAL_MASTER_KEY: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_METRIC_EXPORT_INTERVAL: "200",
          METRICS_TOKEN: metricsToken
        })
        yield* service.waitForUrl(`${base}/monitoring/health/ready`, "60 seconds")
        for (let i = 0; i < 2; i++) {
          const live = yield* Effect.promise(() => fetch(`${base}/monitoring/health/live`))
          assert.strictEqual(live.status, 200)
        }
        const scraped = yield* Effect.promise(async () => {
          const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
          return { status: response.status, text: await response.text() }
        })
        assert.strictEqual(scraped.status, 200)
        const families = parsePrometheusText(scraped.text)
        const live = { method: "GET", route: "/monitoring/health/live", status_class: "2xx" }
        assert.strictEqual(sumOf(families, "http_server_requests_total", live), 2)

        // The exporter sends every 200 ms: wait for a body that has seen both requests.
        const exported = yield* Effect.sync(() =>
          otlp.bodies
            .flatMap(otlpMetrics)
            .filter((m) => m.name === "http_server_requests_total")
            .flatMap((m) => m.sum?.dataPoints ?? [])
            .filter((p) => attribute(p, "route") === "/monitoring/health/live")
            .map((p) => Number(p.asInt ?? p.asDouble))
        ).pipe(
          Effect.filterOrFail((counts) => counts.includes(2)),
          Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })))
        )
        assert.include(exported, 2)
        const metrics = otlp.bodies.flatMap(otlpMetrics)
        const requestsMetric = metrics.find((m) => m.name === "http_server_requests_total")
        assert.isTrue(requestsMetric?.sum?.isMonotonic, "a counter is a monotonic sum")
        assert.isDefined(
          metrics.find((m) => m.name === "http_server_request_duration_seconds")?.histogram,
          "the latency histogram is exported as a histogram"
        )
        yield* service.stop("SIGTERM", "20 seconds")
      })
    )
  })
})
