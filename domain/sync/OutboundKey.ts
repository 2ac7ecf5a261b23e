import { createHash } from "node:crypto"

/**
 * The idempotency key of one push: the same (connection, entity, record, version) always gives the same key, so a
 * push retried after a crash is de-duplicated by the provider. 32 hex characters fit every provider's limit.
 */
export const outboundKey = (connectionId: string, entityType: string, platformId: string, version: number): string =>
  createHash("sha256")
    .update(`${connectionId}\u0000${entityType}\u0000${platformId}\u0000${version}`)
    .digest("hex")
    .slice(0, 32)
