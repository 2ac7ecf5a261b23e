import { Clock, Config, Context, DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import { RateLimiter } from "effect/persistence"
import { SecretPlace } from "../domain/Credential.ts"
import type { KeyManagementUnavailable, StoreUnavailable } from "../domain/Errors.ts"
import type { Provider } from "../domain/Provider.ts"
import type { WebhookEvent } from "../domain/WebhookEvent.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { type InboxUnavailable, type StoredCopy, WebhookInbox } from "../ports/WebhookInbox.ts"
import { messageId, WebhookQueue } from "../ports/WebhookQueue.ts"

const utf8 = new TextEncoder()

/** Which secrets may have signed a delivery; empty means refuse (fail closed). */
export interface DeliverySecrets {
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly notificationUrl: string | undefined
}

export interface Accepted {
  readonly stored: number
  readonly duplicates: number
  readonly unroutable: number
}

/** "whsec_new, whsec_old" → two secrets (rolling); blanks dropped, so an empty setting yields none. */
const secretList = (name: string) =>
  Config.option(Config.Redacted(name)).pipe(
    Config.map((value) =>
      Option.match(value, {
        onNone: () => [],
        onSome: (v) =>
          Redacted.value(v)
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
            .map((s) => Redacted.make(s))
      })
    )
  )

/**
 * Deliveries admitted per provider account (or registered endpoint) and window, in each process: far above what a
 * provider sends one account's endpoint, so a real burst is never refused; a flood of validly signed deliveries for
 * one account cannot take the service's whole capacity.
 */
export const WebhookRateConfig = Config.all({
  limit: Config.Int("WEBHOOK_RATE_LIMIT").pipe(Config.withDefault(60_000)),
  window: Config.Duration("WEBHOOK_RATE_WINDOW").pipe(Config.withDefault(Duration.minutes(1)))
})

export const WebhookSecretsConfig = Config.all({
  stripe: secretList("STRIPE_WEBHOOK_SECRET"),
  square: secretList("SQUARE_WEBHOOK_SIGNATURE_KEY"),
  quickbooks: secretList("QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN"),
  squareUrl: Config.option(Config.String("SQUARE_WEBHOOK_URL"))
})

/**
 * Receiving webhooks after the HTTP adapter verified them: which secrets apply, then store (acknowledged only once
 * committed) and offer to the queue. A queue that is down loses nothing: the row waits for the reconciler.
 */
export class IngestWebhook extends Context.Service<IngestWebhook>()("integration-service/application/IngestWebhook", {
  make: Effect.gen(function* () {
    const inbox = yield* WebhookInbox
    const queue = yield* WebhookQueue
    const store = yield* ConnectionStore
    const vault = yield* CredentialVault
    const config = yield* WebhookSecretsConfig
    const notificationUrl = Option.getOrUndefined(config.squareUrl)
    const rate = yield* WebhookRateConfig
    // In-process on purpose: a shared store would put one more Redis round trip on every delivery.
    const limiter = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))

    /**
     * Service-wide secrets from configuration; with `?endpoint=<public id>` only that connection's own sealed
     * webhook secret, never a scan of every connection's secret. Mailchimp has no service-wide secret: each audience
     * webhook carries its connection's endpoint and secret (MailchimpAudience), so a delivery without `?endpoint=` is
     * refused.
     */
    const fromConnection = Effect.fn("IngestWebhook.secretsFor")(function* (
      provider: Provider,
      endpoint: string
    ): Effect.fn.Return<DeliverySecrets, InboxUnavailable | StoreUnavailable | KeyManagementUnavailable> {
      const route = yield* inbox.endpoint(provider, endpoint)
      if (Option.isNone(route)) return { secrets: [], notificationUrl }
      const place = new SecretPlace({
        tenantId: route.value.tenantId,
        venueId: route.value.venueId,
        provider,
        field: "webhook_secret"
      })
      const sealed = yield* store.secret(place)
      if (Option.isNone(sealed)) return { secrets: [], notificationUrl }
      const secret = yield* vault.open(place, sealed.value).pipe(
        Effect.map(Option.some),
        Effect.catchTag("SecretUnreadable", () => Effect.succeed(Option.none()))
      )
      return { secrets: Option.toArray(secret), notificationUrl }
    })

    const fromConfig: Record<Provider, Effect.Effect<DeliverySecrets>> = {
      stripe: Effect.succeed({ secrets: config.stripe, notificationUrl }),
      square: Effect.succeed({ secrets: config.square, notificationUrl }),
      quickbooks: Effect.succeed({ secrets: config.quickbooks, notificationUrl }),
      mailchimp: Effect.succeed({ secrets: [], notificationUrl })
    }

    const secretsFor = (provider: Provider, endpoint: string | undefined) =>
      endpoint === undefined ? fromConfig[provider] : fromConnection(provider, endpoint)

    // A failed offer loses nothing (the reconciler enqueues the row), but a queue that keeps refusing must be seen:
    // one warning per interval with the count, not a line per event.
    let offerFailures = 0
    let lastOfferWarning = 0
    const offerFailed = (error: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        offerFailures++
        if (at - lastOfferWarning < 10_000) return Effect.void
        lastOfferWarning = at
        const failures = offerFailures
        offerFailures = 0
        return Effect.logWarning("webhooks stored, queue offers failed; the reconciler will enqueue them").pipe(
          Effect.annotateLogs({ failures, error: error instanceof Error ? error.message : String(error) })
        )
      })

    const offer = (copy: StoredCopy, provider: Provider, traceParent: string | null) =>
      copy._tag === "Stored"
        ? queue
            .offer({ inboxId: copy.id, tenantId: copy.tenantId, provider, traceParent }, messageId(copy.id, 0))
            .pipe(Effect.timeout("1 second"), Effect.catch(offerFailed))
        : Effect.void

    const entryOf = (
      provider: Provider,
      event: WebhookEvent,
      body: Uint8Array,
      endpoint: string | undefined,
      traceParent: string | null
    ) => ({
      provider,
      eventId: event.eventId,
      type: event.type,
      accountId: event.accountId,
      endpoint: endpoint ?? null,
      occurredAt: event.occurredAt === null ? null : DateTime.formatIso(event.occurredAt),
      body,
      traceParent
    })

    /** Stores every event of one delivery (committed before this returns), then offers the new ones. */
    const accept = Effect.fn("IngestWebhook.accept")(function* (
      provider: Provider,
      events: ReadonlyArray<WebhookEvent>,
      delivery: { readonly raw: Uint8Array; readonly endpoint: string | undefined },
      traceParent: string | null
    ) {
      // The common single-event delivery is stored as received, without a fan-out; an event of a delivery of
      // several keeps its own JSON.
      const single = events.length === 1 ? events[0] : undefined
      const outcomes =
        single !== undefined
          ? [yield* inbox.store(entryOf(provider, single, delivery.raw, delivery.endpoint, traceParent))]
          : yield* Effect.forEach(
              events,
              (event) =>
                inbox.store(
                  entryOf(provider, event, utf8.encode(JSON.stringify(event.payload)), delivery.endpoint, traceParent)
                ),
              { concurrency: "unbounded" }
            )
      const copies = outcomes.length === 1 ? outcomes[0]! : outcomes.flat()
      if (copies.length === 1) yield* offer(copies[0]!, provider, traceParent)
      else {
        yield* Effect.forEach(copies, (copy) => offer(copy, provider, traceParent), {
          concurrency: "unbounded",
          discard: true
        })
      }
      let stored = 0
      let unroutable = 0
      for (const o of outcomes) if (o.length === 0) unroutable++
      for (const c of copies) if (c._tag === "Stored") stored++
      const duplicates = copies.length - stored
      return { stored, duplicates, unroutable } satisfies Accepted
    })

    const reject = Effect.fn("IngestWebhook.reject")(function* (provider: Provider, detail: string, raw: Uint8Array) {
      yield* inbox.reject(provider, detail, raw)
    })

    /**
     * Whether a verified delivery for the account (or endpoint) may be stored now; else the seconds until it may.
     * Counted after verification, so unsigned requests cannot spend an account's budget.
     */
    const admit = (provider: Provider, key: string) =>
      limiter
        .consume({ key: `${provider}:${key}`, limit: rate.limit, window: rate.window, algorithm: "fixed-window" })
        .pipe(
          Effect.as(null),
          Effect.catchReason("RateLimiterError", "RateLimitExceeded", (reason) =>
            Effect.succeed(Math.max(1, Math.ceil(Duration.toSeconds(reason.retryAfter))))
          ),
          Effect.catch(() => Effect.succeed(null))
        )

    return { secretsFor, accept, reject, admit }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
