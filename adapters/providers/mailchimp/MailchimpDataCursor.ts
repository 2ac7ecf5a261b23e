import { type Option, Schema } from "effect"

/**
 * Where a pass over an audience's members stands. `offset` is the next unread position in Mailchimp's order;
 * `seen` the ids just before it, which the next page reads again so a shift left (a member removed before the
 * offset) is noticed and nothing is skipped, while the ids already returned are dropped. `start` is Mailchimp's clock
 * at the pass's first answer (its Date header), `newest` the latest `last_changed` seen: the pass's watermark.
 */
export const MailchimpDataCursor = Schema.Struct({
  list: Schema.String,
  offset: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  seen: Schema.Array(Schema.String),
  start: Schema.NullOr(Schema.String),
  newest: Schema.NullOr(Schema.String)
})
export type MailchimpDataCursor = typeof MailchimpDataCursor.Type

const codec = Schema.fromJsonString(MailchimpDataCursor)
const decode = Schema.decodeUnknownOption(codec)
const encode = Schema.encodeSync(codec)

/** The stored cursor, or none when it is not one of ours (then the pass starts over). */
export const readCursor = (text: string): Option.Option<MailchimpDataCursor> => decode(text)

export const writeCursor = (cursor: MailchimpDataCursor): string => encode(cursor)
