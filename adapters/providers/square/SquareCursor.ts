import { Effect, Schema } from "effect"
import { ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"

/** Where a pass stands: the adapter's cursor, stored by the engine as the checkpoint. */
export const SquareCursor = Schema.Struct({
  /** Entity, mode and `since` of the pass, so a cursor never resumes another one. */
  pass: Schema.String,
  /** Square's cursor into the current query; null: the query's first page. */
  next: Schema.NullOr(Schema.String),
  /** The pass's watermark, fixed by its first page (ISO). */
  watermark: Schema.NullOr(Schema.String),
  /** Orders: the seller's locations as the pass's first page listed them, searched ten at a time. */
  locations: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Orders: which ten of `locations` the current query reads. */
  group: Schema.optionalKey(Schema.Number)
})
export type SquareCursor = typeof SquareCursor.Type

const Json = Schema.fromJsonString(SquareCursor)
const decode = Schema.decodeUnknownEffect(Json)

export const encodeCursor = (cursor: SquareCursor): string => Schema.encodeSync(Json)(cursor)

/** The stored cursor of this pass, or `rejected`: a cursor from another pass or adapter is a caller's bug. */
export const decodeCursor = (cursor: string, pass: string): Effect.Effect<SquareCursor, ProviderCallFailed> => {
  const rejected = new ProviderCallFailed({
    provider: "square",
    kind: "rejected",
    status: null,
    retryAfterMillis: null,
    message: `Not a Square cursor of this pass (${pass})`
  })
  return decode(cursor).pipe(
    Effect.mapError(() => rejected),
    Effect.filterOrFail(
      (decoded) => decoded.pass === pass,
      () => rejected
    )
  )
}
