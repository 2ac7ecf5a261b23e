import { createHash } from "node:crypto"

/**
 * The idempotency key of one push: the same (connection, entity, record, version, what is done) always gives the
 * same key, so a push retried after a crash is de-duplicated by the provider. `what` tells apart pushes of one
 * version that must not share a key (another mapping version sends other fields; a deletion is another request).
 * 32 hex characters fit every provider's limit.
 */
export const outboundKey = (
  connectionId: string,
  entityType: string,
  platformId: string,
  version: number,
  what: string
): string =>
  createHash("sha256")
    .update(`${connectionId}\u0000${entityType}\u0000${platformId}\u0000${version}\u0000${what}`)
    .digest("hex")
    .slice(0, 32)

/** The hash of the fields a push sends: an unchanged record is not sent again. */
export const fieldsHash = (fields: Record<string, unknown>): string =>
  createHash("md5").update(JSON.stringify(fields)).digest("hex")
