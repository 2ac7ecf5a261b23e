import { Clock, Config, Context, Effect, Layer, Option, type Redacted } from "effect"
import { Connection, type ProviderAccount } from "../domain/Connection.ts"
import { SecretPlace } from "../domain/Credential.ts"
import {
  AlreadyConnected,
  ConnectionNotFound,
  InvalidCredentials,
  type ProviderUnavailable,
  type StoreUnavailable,
  Unprocessable
} from "../domain/Errors.ts"
import { type ConnectionHealth, HealthCheck } from "../domain/Health.ts"
import { ConnectionId, newEndpointPublicId, type VenueId } from "../domain/Ids.ts"
import type { Principal } from "../domain/Principal.ts"
import type { Provider } from "../domain/Provider.ts"
import { checkStripeKey } from "../domain/StripeKey.ts"
import { ConnectionStore, type SealedField } from "../ports/ConnectionStore.ts"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { CallLedger } from "../ports/operations/CallLedger.ts"
import { ProviderGateway } from "../ports/ProviderGateway.ts"
import { WebhookEndpoints } from "../ports/WebhookEndpoints.ts"
import { requireManage, requireRead } from "./Authorize.ts"
import { NeedsReauth } from "./NeedsReauth.ts"
import { ledgered, outcomeOfCredentialCall, recordEnded } from "./operations/Ledgered.ts"
import { stripeSyncEvents } from "./WebhookHandlers.ts"

export interface ConnectionView {
  readonly connection: Connection
  readonly health: Option.Option<ConnectionHealth>
}

export interface ApiKeyRequest {
  readonly venueId: VenueId
  readonly provider: Provider
  readonly apiKey: Redacted.Redacted<string>
}

export interface TestResult {
  readonly ok: boolean
  readonly latencyMs: number
  readonly error: string | null
  readonly health: ConnectionHealth
}

/** How a connection is written: created (losing to a concurrent connect is `AlreadyConnected`) or replaced. */
type Save = (
  connection: Connection,
  secrets: ReadonlyArray<SealedField>
) => Effect.Effect<ConnectionId, AlreadyConnected | StoreUnavailable>

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

const apiKeyPlace = (connection: Pick<Connection, "tenantId" | "venueId" | "provider">) =>
  new SecretPlace({ ...connection, field: "api_key" })

/** Connection use cases: API-key connect, inspect, test, reconnect, disconnect. */
export class Connections extends Context.Service<Connections>()("integration-service/application/Connections", {
  make: Effect.gen(function* () {
    const store = yield* ConnectionStore
    const vault = yield* CredentialVault
    const gateway = yield* ProviderGateway
    const reauth = yield* NeedsReauth
    const ledger = yield* Effect.serviceOption(CallLedger)
    // Stripe webhook endpoints are registered only where the service knows its public URL and has somewhere to keep them.
    const endpoints = yield* Effect.serviceOption(WebhookEndpoints)
    const publicBaseUrl = yield* Config.option(Config.String("PUBLIC_BASE_URL")).pipe(Effect.orDie)
    // Every event a handler applies: a deauthorization, and the changes that ask for an incremental sync.
    const stripeWebhookEvents = ["account.application.deauthorized", ...stripeSyncEvents.map(([type]) => type)]

    const existing = Effect.fnUntraced(function* (principal: Principal, venueId: VenueId, provider: Provider) {
      const found = yield* store.find(principal.tenantId, venueId, provider)
      return yield* Option.match(found, {
        onNone: () => Effect.fail(new ConnectionNotFound({ provider, venueId })),
        onSome: Effect.succeed
      })
    })

    /** The provider call, timed, as one health sample; a refused key is a failed check, not an outage. */
    const timedVerify = Effect.fnUntraced(function* (
      provider: Provider,
      apiKey: Redacted.Redacted<string>,
      countAs?: { readonly connectionId: string; readonly operation: string }
    ) {
      const started = yield* Clock.currentTimeMillis
      const verify = gateway.verifyApiKey(provider, apiKey)
      const result = yield* Effect.result(
        countAs === undefined
          ? verify
          : ledgered(
              ledger,
              { provider, connectionId: countAs.connectionId },
              countAs.operation,
              verify,
              outcomeOfCredentialCall
            )
      )
      const latencyMs = (yield* Clock.currentTimeMillis) - started
      return { result, latencyMs }
    })

    const view = Effect.fnUntraced(function* (connection: Connection) {
      return { connection, health: yield* store.health(connection.tenantId, connection.id) } satisfies ConnectionView
    })

    const connected = (principal: Principal, request: ApiKeyRequest, account: ProviderAccount, at: Date, id: string) =>
      new Connection({
        id: ConnectionId.make(id),
        tenantId: principal.tenantId,
        venueId: request.venueId,
        provider: request.provider,
        authType: "api_key",
        status: "connected",
        accountId: account.accountId,
        accountName: account.accountName,
        livemode: account.livemode,
        lastError: null,
        connectedAt: at,
        disconnectedAt: null,
        createdAt: at,
        updatedAt: at
      })

    /**
     * Stripe: registers a webhook endpoint (URL = PUBLIC_BASE_URL + the receive path + `?endpoint=<public id>`) and
     * seals its signing secret beside the key. Registration comes first and a failure stores nothing; should storing
     * fail afterwards, the endpoint just created is deleted again. A replaced key's old endpoint is removed last.
     */
    const saveWithWebhookEndpoint = Effect.fnUntraced(function* (
      connection: Connection,
      apiKey: Redacted.Redacted<string>,
      secrets: ReadonlyArray<SealedField>,
      save: Save
    ) {
      if (connection.provider !== "stripe" || Option.isNone(endpoints) || Option.isNone(publicBaseUrl)) {
        return yield* save(connection, secrets)
      }
      const registry = endpoints.value
      const previous = yield* registry.find(connection.tenantId, connection.id)
      const publicId = newEndpointPublicId()
      const url = `${publicBaseUrl.value.replace(/\/$/, "")}/api/v1/integrations/webhooks/stripe?endpoint=${publicId}`
      const registering = yield* Clock.currentTimeMillis
      const registered = yield* gateway.registerWebhookEndpoint("stripe", apiKey, { url, events: stripeWebhookEvents })
      const undo = gateway.deleteWebhookEndpoint("stripe", apiKey, registered.endpointId).pipe(Effect.ignore)
      const connectionId = yield* Effect.gen(function* () {
        const webhookSecret = yield* vault.seal(
          new SecretPlace({ ...connection, field: "webhook_secret" }),
          registered.secret
        )
        const id = yield* save(connection, [...secrets, { field: "webhook_secret", sealed: webhookSecret }])
        yield* registry.save({
          tenantId: connection.tenantId,
          connectionId: id,
          provider: "stripe",
          publicId,
          url,
          providerEndpointId: registered.endpointId,
          events: stripeWebhookEvents
        })
        return id
      }).pipe(Effect.onError(() => undo))
      // Counted once the connection exists: a connect that stored nothing has nothing to count against.
      yield* recordEnded(ledger, { provider: "stripe", connectionId }, "webhook_create", "ok", registering)
      if (Option.isSome(previous) && previous.value.providerEndpointId !== registered.endpointId) {
        yield* ledgered(
          ledger,
          { provider: "stripe", connectionId },
          "webhook_delete",
          gateway.deleteWebhookEndpoint("stripe", apiKey, previous.value.providerEndpointId),
          outcomeOfCredentialCall
        ).pipe(Effect.ignore)
      }
      return connectionId
    })

    /** Deletes the connection's registered endpoint at the provider (best effort: a stale one only gets 401s). */
    const removeWebhookEndpoint = Effect.fnUntraced(function* (connection: Connection) {
      if (Option.isNone(endpoints)) return
      const registered = yield* endpoints.value.find(connection.tenantId, connection.id)
      if (Option.isNone(registered)) return
      const sealed = yield* store.secret(apiKeyPlace(connection))
      if (Option.isSome(sealed)) {
        yield* vault.open(apiKeyPlace(connection), sealed.value).pipe(
          Effect.flatMap((apiKey) =>
            ledgered(
              ledger,
              { provider: connection.provider, connectionId: connection.id },
              "webhook_delete",
              gateway.deleteWebhookEndpoint(connection.provider, apiKey, registered.value.providerEndpointId),
              outcomeOfCredentialCall
            )
          ),
          Effect.catch((error) => Effect.logWarning("webhook endpoint left at the provider", error.message))
        )
      }
      yield* endpoints.value.remove(connection.tenantId, connection.id)
    })

    /** Validate with the provider, then seal and store in one step: a refused or unreachable key stores nothing. */
    const storeApiKey = Effect.fnUntraced(function* (
      principal: Principal,
      request: ApiKeyRequest,
      previous: Option.Option<Connection>,
      save: Save
    ) {
      // Provider and key shape first: nothing malformed reaches the provider or key management.
      yield* checkStripeKey(request.provider, request.apiKey)
      const { result, latencyMs } = yield* timedVerify(request.provider, request.apiKey)
      const account = yield* Effect.fromResult(result)
      const at = yield* now
      const base = connected(principal, request, account, at, crypto.randomUUID())
      const proposed = Option.match(previous, {
        onNone: () => base,
        onSome: (p) => new Connection({ ...base, id: p.id, createdAt: p.createdAt })
      })
      const sealed = yield* vault.seal(apiKeyPlace(proposed), request.apiKey)
      const id = yield* saveWithWebhookEndpoint(proposed, request.apiKey, [{ field: "api_key", sealed }], save)
      const connection = id === proposed.id ? proposed : new Connection({ ...proposed, id })
      // The key's check, counted now that its connection exists (a refused connect stores, and counts, nothing).
      const counted = yield* Clock.currentTimeMillis
      yield* recordEnded(
        ledger,
        { provider: connection.provider, connectionId: connection.id },
        "key_check",
        "ok",
        counted - latencyMs
      )
      yield* store.recordHealth(
        new HealthCheck({
          tenantId: connection.tenantId,
          connectionId: connection.id,
          ok: true,
          latencyMs,
          error: null,
          checkedAt: at
        })
      )
      return yield* view(connection)
    })

    const list = Effect.fn("Connections.list")(function* (principal: Principal, venueId: Option.Option<VenueId>) {
      yield* Option.match(venueId, { onNone: () => Effect.void, onSome: (v) => requireRead(principal, v) })
      const venues =
        principal.role === "admin"
          ? Option.map(venueId, (v) => [v])
          : Option.some(Option.match(venueId, { onNone: () => principal.venueIds, onSome: (v) => [v] }))
      const connections = yield* store.list(principal.tenantId, venues)
      return yield* Effect.forEach(connections, view)
    })

    const get = Effect.fn("Connections.get")(function* (principal: Principal, venueId: VenueId, provider: Provider) {
      yield* requireRead(principal, venueId)
      return yield* view(yield* existing(principal, venueId, provider))
    })

    const connectApiKey = Effect.fn("Connections.connectApiKey")(function* (
      principal: Principal,
      request: ApiKeyRequest
    ) {
      yield* Effect.annotateCurrentSpan({ provider: request.provider, "venue.id": request.venueId })
      yield* requireManage(principal, request.venueId)
      const previous = yield* store.find(principal.tenantId, request.venueId, request.provider)
      if (Option.isSome(previous) && previous.value.status === "connected") {
        return yield* new AlreadyConnected({ provider: request.provider, venueId: request.venueId })
      }
      return yield* storeApiKey(principal, request, previous, store.createConnected)
    })

    const replaceApiKey = Effect.fn("Connections.replaceApiKey")(function* (
      principal: Principal,
      request: ApiKeyRequest
    ) {
      yield* Effect.annotateCurrentSpan({ provider: request.provider, "venue.id": request.venueId })
      yield* requireManage(principal, request.venueId)
      const previous = yield* existing(principal, request.venueId, request.provider)
      return yield* storeApiKey(principal, request, Option.some(previous), (connection, secrets) =>
        Effect.as(store.saveConnected(connection, secrets), connection.id)
      )
    })

    /** Opens the stored key and asks the provider again; records the outcome as a health sample. */
    const check = Effect.fnUntraced(function* (connection: Connection, operation: "health_check" | "reconnect_check") {
      const sealed = yield* store.secret(apiKeyPlace(connection))
      if (Option.isNone(sealed)) {
        return yield* new Unprocessable({
          field: "provider",
          message: `${connection.provider} for venue ${connection.venueId} has no stored credential; connect it again`
        })
      }
      const apiKey = yield* vault.open(apiKeyPlace(connection), sealed.value)
      const { result, latencyMs } = yield* timedVerify(connection.provider, apiKey, {
        connectionId: connection.id,
        operation
      })
      const at = yield* now
      const error = result._tag === "Failure" ? result.failure.message : null
      const health = yield* store.recordHealth(
        new HealthCheck({
          tenantId: connection.tenantId,
          connectionId: connection.id,
          ok: error === null,
          latencyMs,
          error,
          checkedAt: at
        })
      )
      return { result, latencyMs, error, health, at }
    })

    const test = Effect.fn("Connections.test")(function* (principal: Principal, venueId: VenueId, provider: Provider) {
      yield* requireRead(principal, venueId)
      const connection = yield* existing(principal, venueId, provider)
      if (connection.status === "disconnected") {
        return yield* new Unprocessable({ field: "provider", message: `${provider} is disconnected for this venue` })
      }
      const { latencyMs, error, health } = yield* check(connection, "health_check")
      return { ok: error === null, latencyMs, error, health } satisfies TestResult
    })

    const reconnect = Effect.fn("Connections.reconnect")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider
    ) {
      yield* requireManage(principal, venueId)
      const connection = yield* existing(principal, venueId, provider)
      const { result, at } = yield* check(connection, "reconnect_check")
      if (result._tag === "Failure") {
        const failure: InvalidCredentials | ProviderUnavailable | Unprocessable = result.failure
        if (failure instanceof InvalidCredentials) {
          yield* reauth.mark(
            { ...connection, connectionId: connection.id },
            { code: "invalid_credentials", message: failure.message, source: "reconnect" }
          )
        }
        return yield* Effect.fail(failure)
      }
      yield* store.setStatus(connection.tenantId, connection.id, "connected", null, at)
      return yield* view(new Connection({ ...connection, status: "connected", lastError: null, updatedAt: at }))
    })

    const disconnect = Effect.fn("Connections.disconnect")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider
    ) {
      yield* requireManage(principal, venueId)
      const connection = yield* existing(principal, venueId, provider)
      const at = yield* now
      yield* removeWebhookEndpoint(connection)
      yield* store.disconnect(connection.tenantId, connection.id, at)
      return yield* view(
        new Connection({ ...connection, status: "disconnected", disconnectedAt: at, updatedAt: at, lastError: null })
      )
    })

    return { list, get, connectApiKey, replaceApiKey, test, reconnect, disconnect }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
