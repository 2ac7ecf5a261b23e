import type { Duration, Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { TenantId } from "../domain/Ids.ts"

/** One `Idempotency-Key` of a tenant on one route: the same key on another method or path is another key. */
export interface IdempotencyScope {
  readonly tenantId: TenantId
  readonly method: string
  readonly path: string
  readonly key: string
}

/** What a repeat is answered with: the first answer's status, content type and body. */
export interface StoredResponse {
  readonly status: number
  readonly contentType: string | null
  readonly body: Uint8Array
}

/**
 * What `claim` found: `Claimed` (the caller runs the request, then `complete`s or `release`s with the token),
 * `Completed` (a request with the same fingerprint was answered), `InFlight` (one with the same fingerprint is
 * running), `Mismatch` (the key was used with another request).
 */
export type Claim =
  | { readonly _tag: "Claimed"; readonly token: string }
  | { readonly _tag: "Completed"; readonly response: StoredResponse }
  | { readonly _tag: "InFlight" }
  | { readonly _tag: "Mismatch" }

export interface ClaimOptions {
  /** How long the key is kept from this claim; an expired key is as good as unused. */
  readonly ttl: Duration.Duration
  /** An unanswered claim older than this was abandoned (its process died): the same request may take it over. */
  readonly lease: Duration.Duration
}

/**
 * The API's idempotency keys (`Idempotency-Key`), per tenant. A key is claimed before its request runs, so of two
 * concurrent requests with one key only one runs. Expired keys are removed by `prune`; until then they are ignored.
 */
export class ApiIdempotency extends Context.Service<
  ApiIdempotency,
  {
    readonly claim: (
      scope: IdempotencyScope,
      fingerprint: string,
      options: ClaimOptions
    ) => Effect.Effect<Claim, StoreUnavailable>
    /** Stores the answer of a claimed request; a claim taken over or expired meanwhile is left alone. */
    readonly complete: (
      scope: IdempotencyScope,
      token: string,
      response: StoredResponse
    ) => Effect.Effect<void, StoreUnavailable>
    /** Forgets a claimed, unanswered key (a 5xx or a refusal): the client may retry with it. */
    readonly release: (scope: IdempotencyScope, token: string) => Effect.Effect<void, StoreUnavailable>
    /** The tenant's keys not yet expired, answered or not. */
    readonly keysHeld: (tenantId: TenantId) => Effect.Effect<number, StoreUnavailable>
    /** Removes every tenant's expired keys; answers how many. */
    readonly prune: Effect.Effect<number, StoreUnavailable>
  }
>()("integration-service/ports/ApiIdempotency") {}
