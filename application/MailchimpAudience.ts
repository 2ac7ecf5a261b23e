import { Config, Context, Effect, Layer, Option, Redacted } from "effect"
import { Base64Url } from "effect/encoding"
import type { Connection } from "../domain/Connection.ts"
import { SecretPlace } from "../domain/Credential.ts"
import { ConnectionNotFound, ProviderUnavailable, Unprocessable } from "../domain/Errors.ts"
import { newEndpointPublicId, type VenueId } from "../domain/Ids.ts"
import { type OAuthGrantRejected, OAuthNotConfigured } from "../domain/OAuth.ts"
import { ReauthorizationRequired } from "../domain/OAuthErrors.ts"
import type { Principal } from "../domain/Principal.ts"
import { ConnectionSettingsStore } from "../ports/ConnectionSettingsStore.ts"
import { ConnectionStore } from "../ports/ConnectionStore.ts"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { type MarketingAccess, MarketingAudiences } from "../ports/MarketingAudiences.ts"
import { CallLedger } from "../ports/operations/CallLedger.ts"
import { WebhookEndpoints } from "../ports/WebhookEndpoints.ts"
import { requireManage } from "./Authorize.ts"
import { makeKeyedLock } from "./KeyedLock.ts"
import { NeedsReauth } from "./NeedsReauth.ts"
import { ledgered, outcomeOfCredentialCall } from "./operations/Ledgered.ts"
import { TokenVault } from "./TokenVault.ts"
import { mailchimpWebhookEvents } from "./WebhookHandlers.ts"

/** The audience a Mailchimp connection syncs with, and where Mailchimp posts its events (the URL secret left out). */
export interface AudienceChoice {
  readonly venueId: VenueId
  readonly listId: string
  readonly audienceName: string
  readonly webhook: { readonly url: string; readonly events: ReadonlyArray<string> }
}

const receivePath = "/api/v1/integrations/webhooks/mailchimp"

const urlSecret = Effect.sync(() => Base64Url.encode(crypto.getRandomValues(new Uint8Array(32))))

/**
 * Mailchimp's audience, chosen after connecting: an OAuth token opens a whole account, which holds several audiences,
 * and webhooks are set per audience. Choosing one validates it with the connection's token, removes the webhook of
 * the audience chosen before (at Mailchimp first, so a refusal there changes nothing), registers a webhook on the new
 * one whose URL carries `?endpoint=<public id>` and a fresh secret (sealed as the connection's `webhook_secret`), and
 * stores the endpoint: deliveries are routed by it to this connection only and checked against that secret only.
 * Disconnecting removes the webhook again. One change per connection at a time in this process. Registering and
 * removing a webhook are in the call ledger as `webhook_create` and `webhook_delete` of the connection.
 */
export class MailchimpAudience extends Context.Service<MailchimpAudience>()(
  "integration-service/application/MailchimpAudience",
  {
    make: Effect.gen(function* () {
      const connections = yield* ConnectionStore
      const settings = yield* ConnectionSettingsStore
      const endpoints = yield* WebhookEndpoints
      const audiences = yield* MarketingAudiences
      const vault = yield* CredentialVault
      const tokenVault = yield* TokenVault
      const reauth = yield* NeedsReauth
      const publicBaseUrl = yield* Config.option(Config.String("PUBLIC_BASE_URL")).pipe(
        Effect.map(Option.filter((url) => url.trim() !== ""))
      )
      const { withLock } = yield* makeKeyedLock<string>()
      const ledger = yield* Effect.serviceOption(CallLedger)

      /** A webhook registration call at Mailchimp, into the call ledger. */
      const webhookCall = <A, E extends OAuthGrantRejected | ProviderUnavailable>(
        connection: Connection,
        operation: "webhook_create" | "webhook_delete",
        call: Effect.Effect<A, E>
      ) =>
        ledgered(
          ledger,
          { provider: "mailchimp", connectionId: connection.id },
          operation,
          call,
          outcomeOfCredentialCall
        )

      const access = Effect.fnUntraced(function* (connection: Connection) {
        const token = yield* tokenVault.accessToken({ tenantId: connection.tenantId, id: connection.id })
        if (token.extra.dc === undefined)
          return yield* new ProviderUnavailable({
            provider: "mailchimp",
            message: "the connection has no Mailchimp datacenter; connect again",
            retryable: false
          })
        return { accessToken: token.token, dc: token.extra.dc, apiEndpoint: token.extra.apiEndpoint } as MarketingAccess
      })

      /** A token Mailchimp refuses takes the one path to needs_reauth; the caller is told to connect again. */
      const asked = <A>(connection: Connection, call: Effect.Effect<A, OAuthGrantRejected | ProviderUnavailable>) =>
        call.pipe(
          Effect.catchTag("OAuthGrantRejected", (rejected) =>
            Effect.andThen(
              reauth.mark(
                { ...connection, connectionId: connection.id },
                { code: rejected.code, message: `${rejected.message}; connect again`, source: "settings" }
              ),
              Effect.fail(
                new ReauthorizationRequired({
                  provider: "mailchimp",
                  venueId: connection.venueId,
                  reason: rejected.message
                })
              )
            )
          )
        )

      /** The webhook of the audience chosen before, at Mailchimp and here; a failure at Mailchimp changes nothing. */
      const removeCurrent = Effect.fnUntraced(function* (connection: Connection, mailchimp: MarketingAccess) {
        const endpoint = yield* endpoints.find(connection.tenantId, connection.id)
        const { listId } = yield* settings.read(connection.tenantId, connection.id)
        if (Option.isSome(endpoint) && listId !== undefined)
          yield* asked(
            connection,
            webhookCall(
              connection,
              "webhook_delete",
              audiences.removeWebhook(mailchimp, listId, endpoint.value.providerEndpointId)
            )
          )
        if (Option.isSome(endpoint)) yield* endpoints.remove(connection.tenantId, connection.id)
        if (listId !== undefined) yield* settings.update(connection, { listId: null }, [])
      })

      const mailchimpConnection = Effect.fnUntraced(function* (principal: Principal, venueId: VenueId) {
        yield* requireManage(principal, venueId)
        const found = yield* connections.find(principal.tenantId, venueId, "mailchimp")
        if (Option.isNone(found)) return yield* new ConnectionNotFound({ provider: "mailchimp", venueId })
        if (found.value.status === "disconnected")
          return yield* new Unprocessable({
            field: "venueId",
            message: "mailchimp is disconnected for this venue; connect it first"
          })
        return found.value
      })

      /** PUT /mailchimp/settings: the venue's audience, validated with the connection's own token. */
      const choose = Effect.fn("MailchimpAudience.choose")(function* (
        principal: Principal,
        venueId: VenueId,
        listId: string
      ) {
        yield* Effect.annotateCurrentSpan({ provider: "mailchimp", "venue.id": venueId, "mailchimp.list_id": listId })
        const connection = yield* mailchimpConnection(principal, venueId)
        if (Option.isNone(publicBaseUrl))
          return yield* new OAuthNotConfigured({ provider: "mailchimp", setting: "PUBLIC_BASE_URL" })
        const base = publicBaseUrl.value.replace(/\/$/, "")
        return yield* withLock(connection.id)(
          Effect.gen(function* () {
            const mailchimp = yield* access(connection)
            const audience = yield* asked(connection, audiences.find(mailchimp, listId))
            if (Option.isNone(audience))
              return yield* new Unprocessable({
                field: "listId",
                message:
                  `${listId} is not an audience of the connected Mailchimp account ${connection.accountName ?? connection.accountId ?? ""}`.trim()
              })
            yield* removeCurrent(connection, mailchimp)

            const publicId = newEndpointPublicId()
            const url = `${base}${receivePath}?endpoint=${publicId}`
            const secret = yield* urlSecret
            const webhookId = yield* asked(
              connection,
              webhookCall(
                connection,
                "webhook_create",
                audiences.registerWebhook(mailchimp, listId, {
                  url: Redacted.make(`${url}&secret=${secret}`),
                  events: mailchimpWebhookEvents
                })
              )
            )
            // Storing failed: the webhook just made goes again, and nothing here points at it.
            const undo = Effect.all(
              [
                webhookCall(connection, "webhook_delete", audiences.removeWebhook(mailchimp, listId, webhookId)),
                endpoints.remove(connection.tenantId, connection.id),
                settings.update(connection, { listId: null }, [])
              ],
              { mode: "result", discard: true }
            )
            yield* Effect.gen(function* () {
              const sealed = yield* vault.seal(
                new SecretPlace({ ...connection, field: "webhook_secret" }),
                Redacted.make(secret)
              )
              yield* settings.update(connection, { listId }, [{ field: "webhook_secret", sealed }])
              yield* endpoints.save({
                tenantId: connection.tenantId,
                connectionId: connection.id,
                provider: "mailchimp",
                publicId,
                url,
                providerEndpointId: webhookId,
                events: mailchimpWebhookEvents
              })
            }).pipe(Effect.onError(() => undo))
            return {
              venueId,
              listId,
              audienceName: audience.value.name,
              webhook: { url, events: mailchimpWebhookEvents }
            } satisfies AudienceChoice
          })
        )
      })

      /**
       * Before a Mailchimp connection is disconnected: its webhook goes at Mailchimp (best effort — a dead token or an
       * outage leaves it there, where it only meets 401s) and here. Other providers have nothing to do.
       */
      const forget = Effect.fn("MailchimpAudience.forget")(function* (connection: Connection) {
        if (connection.provider !== "mailchimp") return
        yield* withLock(connection.id)(
          Effect.gen(function* () {
            const removed = yield* Effect.result(
              Effect.flatMap(access(connection), (m) => removeCurrent(connection, m))
            )
            if (removed._tag === "Failure") {
              yield* Effect.logWarning("Mailchimp webhook left at Mailchimp").pipe(
                Effect.annotateLogs({ "connection.id": connection.id, error: removed.failure._tag })
              )
              yield* endpoints.remove(connection.tenantId, connection.id)
              yield* settings.update(connection, { listId: null }, [])
            }
          })
        )
      })

      return { choose, forget }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)
}
