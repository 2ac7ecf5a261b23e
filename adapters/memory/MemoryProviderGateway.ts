import { Context, Effect, Layer, Redacted, Ref } from "effect"
import { ProviderAccount } from "../../domain/Connection.ts"
import { InvalidCredentials, ProviderUnavailable } from "../../domain/Errors.ts"
import type { Provider } from "../../domain/Provider.ts"
import { checkStripeKey } from "../../domain/StripeKey.ts"
import { ProviderGateway } from "../../ports/ProviderGateway.ts"

export interface MemoryAccount {
  readonly accountId: string
  readonly accountName: string | null
}

export interface MemoryWebhookEndpoint {
  readonly endpointId: string
  readonly accountId: string
  readonly url: string
  readonly events: ReadonlyArray<string>
  readonly secret: Redacted.Redacted<string>
}

interface State {
  readonly keys: ReadonlyMap<string, MemoryAccount>
  readonly endpoints: ReadonlyMap<string, MemoryWebhookEndpoint>
  readonly unavailable: boolean
  readonly calls: number
}

/** Steers the in-memory gateway from tests: which keys exist, whether the provider is down. */
export class MemoryProviderGatewayControl extends Context.Service<
  MemoryProviderGatewayControl,
  {
    readonly addKey: (key: string, account: MemoryAccount) => Effect.Effect<void>
    readonly revokeKey: (key: string) => Effect.Effect<void>
    readonly setUnavailable: (unavailable: boolean) => Effect.Effect<void>
    readonly webhookEndpoints: Effect.Effect<ReadonlyArray<MemoryWebhookEndpoint>>
    /** Calls that got past local validation, i.e. would have reached the provider. */
    readonly calls: Effect.Effect<number>
  }
>()("integration-service/adapters/memory/MemoryProviderGatewayControl") {}

const randomToken = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("")

const make = (initial: Readonly<Record<string, MemoryAccount>>) =>
  Effect.gen(function* () {
    const state = yield* Ref.make<State>({
      keys: new Map(Object.entries(initial)),
      endpoints: new Map(),
      unavailable: false,
      calls: 0
    })

    /** The same local checks and error mapping as Stripe, then a lookup instead of a request. */
    const reach = (provider: Provider, apiKey: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        const { key, livemode } = yield* checkStripeKey(provider, apiKey)
        const current = yield* Ref.updateAndGet(state, (s) => ({ ...s, calls: s.calls + 1 }))
        if (current.unavailable) {
          return yield* new ProviderUnavailable({ provider, message: "Stripe could not be reached", retryable: true })
        }
        const account = current.keys.get(key)
        if (!account) {
          return yield* new InvalidCredentials({
            provider,
            field: "apiKey",
            message: "Stripe rejected the API key: it is wrong, revoked or expired"
          })
        }
        return { account, livemode }
      })

    const gateway = ProviderGateway.of({
      verifyApiKey: Effect.fn("MemoryProviderGateway.verifyApiKey")(function* (provider, apiKey) {
        yield* Effect.annotateCurrentSpan({ provider })
        const { account, livemode } = yield* reach(provider, apiKey)
        return new ProviderAccount({ accountId: account.accountId, accountName: account.accountName, livemode })
      }),
      registerWebhookEndpoint: Effect.fn("MemoryProviderGateway.registerWebhookEndpoint")(
        function* (provider, apiKey, request) {
          yield* Effect.annotateCurrentSpan({ provider })
          const { account } = yield* reach(provider, apiKey)
          const endpoint: MemoryWebhookEndpoint = {
            endpointId: `we_${randomToken(12)}`,
            accountId: account.accountId,
            url: request.url,
            events: [...request.events],
            secret: Redacted.make(`whsec_${randomToken(24)}`)
          }
          yield* Ref.update(state, (s) => ({
            ...s,
            endpoints: new Map(s.endpoints).set(endpoint.endpointId, endpoint)
          }))
          return { endpointId: endpoint.endpointId, secret: endpoint.secret }
        }
      ),
      deleteWebhookEndpoint: Effect.fn("MemoryProviderGateway.deleteWebhookEndpoint")(
        function* (provider, apiKey, endpointId) {
          yield* Effect.annotateCurrentSpan({ provider })
          const { account } = yield* reach(provider, apiKey)
          yield* Ref.update(state, (s) => {
            if (s.endpoints.get(endpointId)?.accountId !== account.accountId) return s
            const endpoints = new Map(s.endpoints)
            endpoints.delete(endpointId)
            return { ...s, endpoints }
          })
        }
      )
    })

    const control = MemoryProviderGatewayControl.of({
      addKey: (key, account) => Ref.update(state, (s) => ({ ...s, keys: new Map(s.keys).set(key, account) })),
      revokeKey: (key) =>
        Ref.update(state, (s) => {
          const keys = new Map(s.keys)
          keys.delete(key)
          return { ...s, keys }
        }),
      setUnavailable: (unavailable) => Ref.update(state, (s) => ({ ...s, unavailable })),
      webhookEndpoints: Effect.map(Ref.get(state), (s) => [...s.endpoints.values()]),
      calls: Effect.map(Ref.get(state), (s) => s.calls)
    })

    return Context.make(ProviderGateway, gateway).pipe(Context.add(MemoryProviderGatewayControl, control))
  })

export const MemoryProviderGateway = {
  /** An in-memory Stripe: `keys` maps each accepted API key to the account it opens. */
  layer: (keys: Readonly<Record<string, MemoryAccount>> = {}) => Layer.effectContext(make(keys))
}
