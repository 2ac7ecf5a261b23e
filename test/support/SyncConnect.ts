import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { FetchHttpClient } from "effect/http"
import { base } from "./SyncTestApp.ts"
import { type Caller, call, TestWorld } from "./TestApp.ts"

/**
 * Connects the venue through the provider's OAuth flow against its fake: the consent page approves for `account` (the
 * Square merchant or QuickBooks company the venue chooses; the fake's own login where none is named).
 */
export const connectOAuth = (
  provider: "square" | "quickbooks" | "mailchimp",
  caller: Caller,
  venueId: string,
  account?: string
) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* call("POST", `${base}/connect/${provider}`, { caller, body: { venueId } })
    assert.strictEqual(started.status, 200, started.text)
    const choice = account === undefined ? {} : { account }
    const query = yield* Effect.promise(() => world[provider].consent(started.body.authorizationUrl, choice))
    const done = yield* call("GET", `${base}/oauth/callback/${provider}?${new URLSearchParams(query)}`).pipe(
      Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
    )
    assert.strictEqual(done.status, 200, done.text)
  })

/**
 * Connects Mailchimp through the OAuth flow and chooses the venue's audience. Every connection opens the fake's one
 * login, so each venue writes to an audience of its own.
 */
export const connectMailchimp = (caller: Caller, venueId: string, listId: string) =>
  Effect.gen(function* () {
    yield* connectOAuth("mailchimp", caller, venueId)
    const chosen = yield* call("PUT", `${base}/mailchimp/settings`, { caller, body: { venueId, listId } })
    assert.strictEqual(chosen.status, 200, chosen.text)
    assert.strictEqual(chosen.body.listId, listId)
  })

/** Connects Stripe with an API key of the venue's own (`keyTag` tells a file's keys apart); answers its account. */
export const connectStripe = (caller: Caller, venueId: string, keyTag: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_${keyTag}${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    return { accountId, apiKey }
  })
