import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { HttpRouter } from "effect/http"
import { Redis as IORedis } from "ioredis"
import { HttpRoutes, Services } from "../../adapters/main/App.ts"
import { WebhookWorkerLive } from "../../adapters/main/Webhooks.ts"
import { layerWith } from "../../adapters/telemetry/Telemetry.ts"
import { ExtraWebhookHandlers, type WebhookHandler } from "../../application/WebhookHandlers.ts"
import { type FakeStripe, startFakeStripe } from "../sandbox/FakeStripe.ts"
import { jwtSecret } from "./TestApp.ts"
import { TestDatabaseUrls } from "./TestDatabase.ts"

/** The official vectors (Square, QuickBooks) and the test secrets the app is configured with. */
export const webhookSecrets = {
  stripe: "whsec_e2e_current",
  stripeOld: "whsec_e2e_previous",
  squareKey: "Ibxx_5AKakO-3qeNVR61Dw",
  squareUrl: "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
  quickbooks: "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
} as const

export class WebhookWorld extends Context.Service<
  WebhookWorld,
  { readonly spans: InMemorySpanExporter; readonly redisPrefix: string; readonly stripe: FakeStripe }
>()("integration-service/test/WebhookWorld") {}

const world = Layer.effect(
  WebhookWorld,
  Effect.acquireRelease(
    Effect.promise(async () => ({
      spans: new InMemorySpanExporter(),
      redisPrefix: `test:webhooks:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`,
      stripe: await startFakeStripe()
    })),
    ({ redisPrefix, stripe }) =>
      Effect.promise(async () => {
        await stripe.close()
        const redis = new IORedis("redis://127.0.0.1:6379")
        const keys = await redis.keys(`${redisPrefix}*`)
        if (keys.length > 0) await redis.del(...keys)
        redis.disconnect()
      })
  )
)

const config = (overrides: Record<string, string>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const urls = yield* TestDatabaseUrls
      const { redisPrefix, stripe } = yield* WebhookWorld
      return ConfigProvider.layer(
        ConfigProvider.fromUnknown({
          DATABASE_URL: Redacted.value(urls.owner),
          DATABASE_APP_URL: Redacted.value(urls.app),
          DATA_DIR: mkdtempSync(join(tmpdir(), "integration-webhooks-")),
          JWT_SECRET: jwtSecret,
          REDIS_URL: "redis://127.0.0.1:6379",
          STRIPE_API_BASE_URL: stripe.url,
          PUBLIC_BASE_URL: "https://integrations.example.test",
          REDIS_QUEUE_PREFIX: redisPrefix,
          RATE_LIMIT_PREFIX: `${redisPrefix}ratelimit:`,
          STRIPE_WEBHOOK_SECRET: `${webhookSecrets.stripe},${webhookSecrets.stripeOld}`,
          SQUARE_WEBHOOK_SIGNATURE_KEY: webhookSecrets.squareKey,
          SQUARE_WEBHOOK_URL: webhookSecrets.squareUrl,
          QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN: webhookSecrets.quickbooks,
          WEBHOOK_RETRY_MAX_ATTEMPTS: "3",
          WEBHOOK_RETRY_BASE_DELAY: "50 millis",
          WEBHOOK_RETRY_MAX_DELAY: "200 millis",
          WEBHOOK_RECONCILE_INTERVAL: "200 millis",
          WEBHOOK_RECONCILE_AFTER: "300 millis",
          WEBHOOK_WORKER_CONCURRENCY: "4",
          ...overrides
        })
      )
    })
  )

/**
 * The service with its webhook worker running, on a fresh database, the real Redis (a key prefix of its own,
 * deleted afterwards), the local keyring, and every span kept in memory. `extra` handlers are injected.
 */
export const makeWebhookTestApp = (
  options: { readonly extra?: Readonly<Record<string, WebhookHandler>>; readonly config?: Record<string, string> } = {}
) =>
  HttpRouter.serve(HttpRoutes, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(WebhookWorkerLive),
    Layer.provideMerge(Services),
    Layer.provide(Layer.succeed(ExtraWebhookHandlers, options.extra ?? {})),
    Layer.provide(config(options.config ?? {})),
    Layer.provideMerge(
      Layer.unwrap(Effect.map(WebhookWorld, ({ spans }) => layerWith(new SimpleSpanProcessor(spans))))
    ),
    Layer.provideMerge(world),
    Layer.provideMerge(TestDatabaseUrls.layer)
  )
