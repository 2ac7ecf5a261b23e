import { Effect, Layer, Option } from "effect"
import type { SealedSecret, SecretPlace } from "../../domain/Credential.ts"
import { type CatalogedSecret, SecretCatalog } from "../../ports/SecretCatalog.ts"

const placeKey = (p: SecretPlace) => `${p.tenantId}|${p.venueId}|${p.provider}|${p.field}`

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i])

/** The sealed secrets of a memory store, shared by the catalog layer and whoever stores secrets in it. */
export interface MemorySecrets {
  readonly layer: Layer.Layer<SecretCatalog>
  readonly put: (secret: CatalogedSecret) => void
  readonly get: (place: SecretPlace) => Option.Option<SealedSecret>
}

export const MemorySecretCatalog = {
  make: (initial: Iterable<CatalogedSecret> = []): MemorySecrets => {
    const rows = new Map<string, CatalogedSecret>()
    const put = (secret: CatalogedSecret) => {
      rows.set(placeKey(secret.place), secret)
    }
    for (const secret of initial) put(secret)

    const catalog = SecretCatalog.of({
      notWrappedUnder: (keyId, limit) =>
        Effect.sync(() =>
          [...rows.entries()]
            .filter(([, row]) => row.sealed.keyId !== keyId)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .slice(0, limit)
            .map(([, row]) => row)
        ).pipe(Effect.withSpan("MemorySecretCatalog.notWrappedUnder")),
      replaceWrappedKey: (place, previous, next) =>
        Effect.sync(() => {
          const row = rows.get(placeKey(place))
          if (
            row === undefined ||
            row.sealed.keyId !== previous.keyId ||
            !sameBytes(row.sealed.wrappedKey, previous.wrappedKey) ||
            !sameBytes(row.sealed.ciphertext, next.ciphertext) ||
            !sameBytes(row.sealed.iv, next.iv)
          )
            return false
          put({ place, sealed: next })
          return true
        }).pipe(Effect.withSpan("MemorySecretCatalog.replaceWrappedKey")),
      count: (keyId) =>
        Effect.sync(() =>
          Option.match(keyId, {
            onNone: () => rows.size,
            onSome: (id) => [...rows.values()].filter((row) => row.sealed.keyId === id).length
          })
        ).pipe(Effect.withSpan("MemorySecretCatalog.count")),
      sample: (limit) =>
        Effect.sync(() =>
          [...rows.values()]
            .map((row) => ({ row, order: Math.random() }))
            .sort((a, b) => a.order - b.order)
            .slice(0, limit)
            .map(({ row }) => row)
        ).pipe(Effect.withSpan("MemorySecretCatalog.sample"))
    })

    return {
      layer: Layer.succeed(SecretCatalog, catalog),
      put,
      get: (place) => Option.fromNullishOr(rows.get(placeKey(place))?.sealed)
    }
  }
}
