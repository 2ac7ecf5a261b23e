import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Context, Effect, Layer, Logger, Redacted, References } from "effect"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { SqlClient } from "effect/sql"
import { signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { HttpRoutes, Services } from "../../adapters/main/App.ts"
import { layerWith } from "../../adapters/telemetry/Telemetry.ts"
import { type FakeKms, startFakeKms } from "../sandbox/FakeKms.ts"
import { type FakeMailchimp, startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"
import { type FakeQuickBooks, startFakeQuickBooks } from "../sandbox/FakeQuickBooks.ts"
import { type FakeSquare, startFakeSquare } from "../sandbox/FakeSquare.ts"
import { type FakeStripe, startFakeStripe } from "../sandbox/FakeStripe.ts"
import { TestDatabaseUrls } from "./TestDatabase.ts"

export const jwtSecret = "test-jwt-secret-7f3a9c2e1b4d6a8f0e2c4b6d8a0f2e4c"
export const kmsKeyId = "e2e-master-key"
/** Where the app believes it is reachable; the OAuth redirect URIs start here. */
export const publicBaseUrl = "https://integrations.example.test"

/** Everything the app under test talks to, so tests can arrange and inspect it. */
export class TestWorld extends Context.Service<
  TestWorld,
  {
    readonly stripe: FakeStripe
    readonly kms: FakeKms
    readonly square: FakeSquare
    readonly quickbooks: FakeQuickBooks
    readonly mailchimp: FakeMailchimp
    readonly logs: Array<string>
    readonly spans: InMemorySpanExporter
    readonly dataDir: string
  }
>()("integration-service/test/TestWorld") {}

const fakes = Layer.effect(
  TestWorld,
  Effect.acquireRelease(
    Effect.promise(async () => {
      const stripe = await startFakeStripe()
      const kms = await startFakeKms({ keys: [kmsKeyId] })
      const [square, quickbooks, mailchimp] = await Promise.all([
        startFakeSquare(),
        startFakeQuickBooks(),
        startFakeMailchimp()
      ])
      return {
        stripe,
        kms,
        square,
        quickbooks,
        mailchimp,
        logs: [] as Array<string>,
        spans: new InMemorySpanExporter(),
        dataDir: mkdtempSync(join(tmpdir(), "integration-e2e-"))
      }
    }),
    (world) =>
      Effect.promise(() =>
        Promise.all([world.stripe, world.kms, world.square, world.quickbooks, world.mailchimp].map((f) => f.close()))
      )
  )
)

/** Every span, kept in memory (read them before the layer is released). */
const tracing = Layer.unwrap(Effect.map(TestWorld, ({ spans }) => layerWith(new SimpleSpanProcessor(spans))))

/** Every log line, at every level, as text: tests assert no secret is ever written. */
const capturedLogs = Layer.unwrap(
  Effect.map(TestWorld, ({ logs }) =>
    Layer.mergeAll(
      Logger.layer([Logger.map(Logger.formatStructured, (entry) => logs.push(JSON.stringify(entry)))]),
      Layer.succeed(References.MinimumLogLevel, "All")
    )
  )
)

const config = <R>(overrides: Effect.Effect<Record<string, string>, never, R>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const urls = yield* TestDatabaseUrls
      const world = yield* TestWorld
      // The AWS SDK reads its credentials from the environment.
      process.env.AWS_ACCESS_KEY_ID = "AKIDSANDBOX"
      process.env.AWS_SECRET_ACCESS_KEY = "sandbox-secret"
      return ConfigProvider.layer(
        ConfigProvider.fromUnknown({
          DATABASE_URL: Redacted.value(urls.owner),
          DATABASE_APP_URL: Redacted.value(urls.app),
          DATA_DIR: world.dataDir,
          JWT_SECRET: jwtSecret,
          KMS_KEY_ID: kmsKeyId,
          AWS_REGION: "us-east-1",
          KMS_ENDPOINT: world.kms.url,
          STRIPE_API_BASE_URL: world.stripe.url,
          PUBLIC_BASE_URL: publicBaseUrl,
          SQUARE_CLIENT_ID: world.square.clientId,
          SQUARE_CLIENT_SECRET: world.square.clientSecret,
          SQUARE_BASE_URL: world.square.url,
          QUICKBOOKS_CLIENT_ID: world.quickbooks.clientId,
          QUICKBOOKS_CLIENT_SECRET: world.quickbooks.clientSecret,
          QUICKBOOKS_BASE_URL: world.quickbooks.url,
          QUICKBOOKS_OAUTH_BASE_URL: world.quickbooks.url,
          MAILCHIMP_CLIENT_ID: world.mailchimp.clientId,
          MAILCHIMP_CLIENT_SECRET: world.mailchimp.clientSecret,
          MAILCHIMP_OAUTH_BASE_URL: world.mailchimp.url,
          OAUTH_TIMEOUT: "2 seconds",
          ...(yield* overrides)
        })
      )
    })
  )

/**
 * The whole service on an ephemeral port against the real PostgreSQL (a fresh
 * database), the Stripe fake through the official SDK and the KMS fake through
 * the AWS SDK. Services are built before the socket listens, as in main.
 */
export const testAppWith = <R>(overrides: Effect.Effect<Record<string, string>, never, R>) =>
  HttpRouter.serve(HttpRoutes, { disableListenLog: true, disableLogger: false }).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(Services),
    Layer.provide(config(overrides)),
    Layer.provideMerge(capturedLogs),
    Layer.provideMerge(tracing),
    Layer.provideMerge(fakes),
    Layer.provideMerge(TestDatabaseUrls.layer)
  )

export const TestApp = testAppWith(Effect.succeed({}))

export interface Caller {
  readonly sub?: string
  readonly tenantId: string
  readonly venueIds: ReadonlyArray<string>
  readonly role: string
}

export const tokenFor = (caller: Caller) =>
  Effect.promise(() =>
    signToken(Redacted.make(jwtSecret), {
      sub: caller.sub ?? "user-1",
      tenantId: caller.tenantId,
      venueIds: caller.venueIds,
      role: caller.role
    })
  )

export interface Reply {
  readonly status: number
  readonly body: any
  readonly text: string
  readonly headers: Readonly<Record<string, string>>
}

/** One HTTP call to the app under test; the body is parsed as JSON when it is JSON. */
export const call = (
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: {
    readonly caller?: Caller
    readonly token?: string
    readonly body?: unknown
    readonly headers?: Record<string, string>
  } = {}
) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const token = options.token ?? (options.caller ? yield* tokenFor(options.caller) : undefined)
    let request = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, token)
    if (options.body !== undefined) request = HttpClientRequest.bodyJsonUnsafe(request, options.body)
    const response = yield* client.execute(request)
    const text = yield* response.text
    let body: any = text
    try {
      body = JSON.parse(text)
    } catch {}
    return { status: response.status, body, text, headers: response.headers } satisfies Reply
  }).pipe(Effect.orDie)

/** Runs a query as the service role inside the tenant, as the app does. */
export const asTenant = <A>(tenantId: string, query: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.withTransaction(
      sql`SELECT set_config('app.tenant_id', ${tenantId}, true)`.pipe(Effect.andThen(query(sql)))
    )
  }).pipe(Effect.orDie)
