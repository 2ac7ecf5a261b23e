import { Effect, Schema } from "effect"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { SecretCatalog } from "../ports/SecretCatalog.ts"

export interface RotationReport {
  /** Data keys now wrapped under the target key. */
  readonly rewrapped: number
  /** Rows the service kept re-sealing meanwhile (never overwritten): left for a later run. */
  readonly skipped: number
  /** Rows whose data key could not be unwrapped (their master key is gone or the row is damaged). */
  readonly unreadable: number
}

/** The key manager names the target key differently (e.g. an alias resolved to its ARN). */
export class RotationTargetMismatch extends Schema.TaggedError<RotationTargetMismatch>()("RotationTargetMismatch", {
  requested: Schema.String,
  reported: Schema.String
}) {
  override get message() {
    return `the key manager names ${this.requested} as ${this.reported}: rotate to ${this.reported}`
  }
}

/**
 * Re-wraps every stored data key under `toKeyId`, a page at a time. Only the
 * wrapped key changes, by compare-and-set, so it is safe while the service
 * runs and reads or re-seals secrets. Idempotent: a second run finds nothing.
 */
export const rotateMasterKey = Effect.fn("RotateMasterKey")(function* (
  toKeyId: string,
  options: { readonly batchSize: number }
) {
  const catalog = yield* SecretCatalog
  const vault = yield* CredentialVault
  yield* Effect.annotateCurrentSpan({ "kms.to_key_id": toKeyId })
  const batchSize = Math.max(1, Math.floor(options.batchSize))
  // Rows this run will not touch again; fetched past so a page of them cannot stall the run.
  const leftAlone = new Set<string>()
  // A row re-sealed between our read and our write is read again, a few times at most.
  const conflicts = new Map<string, number>()
  let rewrapped = 0
  let skipped = 0
  let unreadable = 0

  while (true) {
    const page = (yield* catalog.notWrappedUnder(toKeyId, batchSize + leftAlone.size)).filter(
      ({ place }) => !leftAlone.has(placeKey(place))
    )
    if (page.length === 0) break
    for (const { place, sealed } of page) {
      const next = yield* vault.rewrap(sealed, toKeyId).pipe(
        Effect.catchTag("SecretUnreadable", () =>
          Effect.logWarning("credential left under its old key: its data key does not unwrap").pipe(
            Effect.annotateLogs({
              "tenant.id": place.tenantId,
              "venue.id": place.venueId,
              provider: place.provider,
              field: place.field,
              "kms.key_id": sealed.keyId
            }),
            Effect.as(undefined)
          )
        )
      )
      if (next === undefined) {
        unreadable++
        leftAlone.add(placeKey(place))
        continue
      }
      if (next.keyId !== toKeyId) return yield* new RotationTargetMismatch({ requested: toKeyId, reported: next.keyId })
      if (yield* catalog.replaceWrappedKey(place, sealed, next)) rewrapped++
      else {
        const key = placeKey(place)
        const times = (conflicts.get(key) ?? 0) + 1
        conflicts.set(key, times)
        if (times >= maxConflicts) {
          skipped++
          leftAlone.add(key)
        }
      }
    }
  }

  yield* Effect.annotateCurrentSpan({ "rotation.rewrapped": rewrapped, "rotation.skipped": skipped })
  return { rewrapped, skipped, unreadable } satisfies RotationReport
})

const maxConflicts = 3

const placeKey = (place: {
  readonly tenantId: string
  readonly venueId: string
  readonly provider: string
  readonly field: string
}) => `${place.tenantId}|${place.venueId}|${place.provider}|${place.field}`
