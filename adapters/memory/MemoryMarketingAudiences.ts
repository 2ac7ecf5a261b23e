import { Context, Effect, Layer, Option, Redacted, Ref } from "effect"
import { ProviderUnavailable } from "../../domain/Errors.ts"
import { OAuthGrantRejected } from "../../domain/OAuth.ts"
import {
  type Audience,
  type AudienceWebhookRequest,
  type MarketingAccess,
  MarketingAudiences
} from "../../ports/MarketingAudiences.ts"

export interface MemoryAudienceWebhook {
  readonly id: string
  readonly listId: string
  readonly url: Redacted.Redacted<string>
  readonly events: ReadonlyArray<string>
}

interface State {
  readonly tokens: ReadonlySet<string>
  readonly webhooks: ReadonlyMap<string, MemoryAudienceWebhook>
  readonly unavailable: boolean
}

/** Steers the in-memory audiences from tests: which tokens work, whether Mailchimp is down, what was registered. */
export class MemoryMarketingAudiencesControl extends Context.Service<
  MemoryMarketingAudiencesControl,
  {
    readonly grantToken: (token: string) => Effect.Effect<void>
    readonly revokeToken: (token: string) => Effect.Effect<void>
    readonly setUnavailable: (unavailable: boolean) => Effect.Effect<void>
    readonly webhooks: Effect.Effect<ReadonlyArray<MemoryAudienceWebhook>>
  }
>()("integration-service/adapters/memory/MemoryMarketingAudiencesControl") {}

const webhookId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(5)), (b) => b.toString(16).padStart(2, "0")).join("")

/** One Mailchimp account in memory: its audiences, the tokens that open it and the webhooks registered on them. */
const make = (audiences: ReadonlyArray<Audience>, tokens: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const state = yield* Ref.make<State>({ tokens: new Set(tokens), webhooks: new Map(), unavailable: false })

    /** The same outcomes as the API: down is retryable, an unknown token is refused. */
    const reach = Effect.fnUntraced(function* (access: MarketingAccess) {
      const s = yield* Ref.get(state)
      if (s.unavailable)
        return yield* new ProviderUnavailable({
          provider: "mailchimp",
          message: "Mailchimp API unreachable",
          retryable: true
        })
      if (!s.tokens.has(Redacted.value(access.accessToken)))
        return yield* new OAuthGrantRejected({
          provider: "mailchimp",
          code: "invalid_token",
          message: "Mailchimp refused the access token (401 API Key Invalid)"
        })
    })

    const find = Effect.fn("MemoryMarketingAudiences.find")(function* (access: MarketingAccess, listId: string) {
      yield* reach(access)
      return Option.fromNullishOr(audiences.find((a) => a.id === listId))
    })

    const registerWebhook = Effect.fn("MemoryMarketingAudiences.registerWebhook")(function* (
      access: MarketingAccess,
      listId: string,
      webhook: AudienceWebhookRequest
    ) {
      yield* reach(access)
      if (!audiences.some((a) => a.id === listId))
        return yield* new ProviderUnavailable({
          provider: "mailchimp",
          message: "Mailchimp POST /lists/{id}/webhooks answered 404 Resource Not Found",
          retryable: false
        })
      const registered: MemoryAudienceWebhook = {
        id: webhookId(),
        listId,
        url: webhook.url,
        events: [...webhook.events]
      }
      yield* Ref.update(state, (s) => ({ ...s, webhooks: new Map(s.webhooks).set(registered.id, registered) }))
      return registered.id
    })

    const removeWebhook = Effect.fn("MemoryMarketingAudiences.removeWebhook")(function* (
      access: MarketingAccess,
      listId: string,
      id: string
    ) {
      yield* reach(access)
      yield* Ref.update(state, (s) => {
        if (s.webhooks.get(id)?.listId !== listId) return s
        const webhooks = new Map(s.webhooks)
        webhooks.delete(id)
        return { ...s, webhooks }
      })
    })

    const control = MemoryMarketingAudiencesControl.of({
      grantToken: (token) => Ref.update(state, (s) => ({ ...s, tokens: new Set([...s.tokens, token]) })),
      revokeToken: (token) =>
        Ref.update(state, (s) => ({ ...s, tokens: new Set([...s.tokens].filter((t) => t !== token)) })),
      setUnavailable: (unavailable) => Ref.update(state, (s) => ({ ...s, unavailable })),
      webhooks: Effect.map(Ref.get(state), (s) => [...s.webhooks.values()])
    })
    return Context.make(MarketingAudiences, MarketingAudiences.of({ find, registerWebhook, removeWebhook })).pipe(
      Context.add(MemoryMarketingAudiencesControl, control)
    )
  })

export const MemoryMarketingAudiences = {
  layer: (audiences: ReadonlyArray<Audience>, tokens: ReadonlyArray<string>) =>
    Layer.effectContext(make(audiences, tokens))
}
