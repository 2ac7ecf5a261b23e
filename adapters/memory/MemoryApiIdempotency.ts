import { Clock, Duration, Effect, Layer } from "effect"
import type { TenantId } from "../../domain/Ids.ts"
import {
  ApiIdempotency,
  type Claim,
  type ClaimOptions,
  type IdempotencyScope,
  type StoredResponse
} from "../../ports/ApiIdempotency.ts"

interface Entry {
  readonly tenantId: TenantId
  readonly fingerprint: string
  readonly token: string
  readonly lockedAt: number
  readonly expiresAt: number
  readonly response: StoredResponse | null
}

const keyOf = (scope: IdempotencyScope) => JSON.stringify([scope.tenantId, scope.method, scope.path, scope.key])

/** Keys in process memory; each step is synchronous, so a claim is atomic. */
export const MemoryApiIdempotency = {
  layer: Layer.sync(ApiIdempotency, () => {
    const entries = new Map<string, Entry>()

    const claim = (scope: IdempotencyScope, fingerprint: string, options: ClaimOptions) =>
      Effect.map(Clock.currentTimeMillis, (now): Claim => {
        const key = keyOf(scope)
        const found = entries.get(key)
        const abandoned =
          found !== undefined &&
          found.response === null &&
          found.fingerprint === fingerprint &&
          found.lockedAt <= now - Duration.toMillis(options.lease)
        if (found === undefined || found.expiresAt <= now || abandoned) {
          const token = crypto.randomUUID()
          entries.set(key, {
            tenantId: scope.tenantId,
            fingerprint,
            token,
            lockedAt: now,
            expiresAt: now + Duration.toMillis(options.ttl),
            response: null
          })
          return { _tag: "Claimed", token }
        }
        if (found.fingerprint !== fingerprint) return { _tag: "Mismatch" }
        return found.response === null ? { _tag: "InFlight" } : { _tag: "Completed", response: found.response }
      }).pipe(Effect.withSpan("MemoryApiIdempotency.claim"))

    const ours = (scope: IdempotencyScope, token: string) => {
      const found = entries.get(keyOf(scope))
      return found !== undefined && found.token === token && found.response === null ? found : undefined
    }

    const complete = (scope: IdempotencyScope, token: string, response: StoredResponse) =>
      Effect.sync(() => {
        const found = ours(scope, token)
        if (found !== undefined)
          entries.set(keyOf(scope), { ...found, response: { ...response, body: Uint8Array.from(response.body) } })
      }).pipe(Effect.withSpan("MemoryApiIdempotency.complete"))

    const release = (scope: IdempotencyScope, token: string) =>
      Effect.sync(() => {
        if (ours(scope, token) !== undefined) entries.delete(keyOf(scope))
      }).pipe(Effect.withSpan("MemoryApiIdempotency.release"))

    const keysHeld = (tenantId: TenantId) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now) => [...entries.values()].filter((e) => e.tenantId === tenantId && e.expiresAt > now).length
      )

    const prune = Effect.map(Clock.currentTimeMillis, (now) => {
      let removed = 0
      for (const [key, entry] of entries) {
        if (entry.expiresAt <= now) {
          entries.delete(key)
          removed++
        }
      }
      return removed
    })

    return ApiIdempotency.of({ claim, complete, release, keysHeld, prune })
  })
}
