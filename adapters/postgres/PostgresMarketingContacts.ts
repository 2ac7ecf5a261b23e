import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type ContactChange, MarketingContacts } from "../../ports/MarketingContacts.ts"
import { withTenant } from "./TenantTransaction.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

/**
 * Contacts are `synced_records` rows of entity `contact`, keyed by the lower-cased email (Mailchimp's own member
 * key); a change for a contact never synced yet creates its record, so the consent is known when it arrives.
 */
export const PostgresMarketingContacts = {
  layer: Layer.effect(
    MarketingContacts,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const upsert = (tenantId: TenantId, connectionId: ConnectionId, key: string, patch: object) => {
        const json = JSON.stringify(patch)
        // A change to the feed: numbered under the connection's lock, as the sync engine's pages are (SyncRecords).
        return sql`SELECT pg_advisory_xact_lock(hashtext(${connectionId}))`.pipe(
          Effect.andThen(sql`INSERT INTO synced_records AS s (tenant_id, connection_id, entity_type, external_id, raw,
              content_hash, data, mapping_version, change, change_seq)
            VALUES (${tenantId}, ${connectionId}, 'contact', ${key}, '{}', md5(${json}::jsonb::text), ${json}::jsonb, 0,
              'added', nextval('synced_records_change_seq'))
            ON CONFLICT (tenant_id, connection_id, entity_type, external_id) DO UPDATE SET
              data = s.data || EXCLUDED.data, content_hash = md5((s.data || EXCLUDED.data)::text),
              change = CASE WHEN s.deleted THEN 'added' ELSE 'updated' END, deleted = false,
              change_seq = EXCLUDED.change_seq, updated_at = now()`)
        )
      }
      const apply = Effect.fn("PostgresMarketingContacts.apply")(function* (
        tenantId: TenantId,
        connectionId: ConnectionId,
        change: ContactChange
      ) {
        yield* Effect.annotateCurrentSpan({ "contact.change": change._tag })
        const effect =
          change._tag === "ConsentWithdrawn"
            ? upsert(tenantId, connectionId, change.email.toLowerCase(), {
                email: change.email,
                marketingConsent: false,
                consentReason: change.reason,
                ...(change.memberId === null ? {} : { memberId: change.memberId })
              })
            : Effect.gen(function* () {
                const oldKey = change.oldEmail.toLowerCase()
                const newKey = change.newEmail.toLowerCase()
                // Re-key the record so later syncs find it under the new address, keeping what it held.
                yield* sql`SELECT pg_advisory_xact_lock(hashtext(${connectionId}))`
                yield* sql`UPDATE synced_records SET external_id = ${newKey},
                    data = data || jsonb_build_object('email', ${change.newEmail}::text), updated_at = now(),
                    change = 'updated', change_seq = nextval('synced_records_change_seq')
                  WHERE connection_id = ${connectionId} AND entity_type = 'contact' AND external_id = ${oldKey}
                    AND NOT EXISTS (SELECT 1 FROM synced_records n WHERE n.connection_id = ${connectionId}
                      AND n.entity_type = 'contact' AND n.external_id = ${newKey})`
                yield* upsert(tenantId, connectionId, newKey, {
                  email: change.newEmail,
                  previousEmail: change.oldEmail,
                  ...(change.memberId === null ? {} : { memberId: change.memberId })
                })
              })
        yield* effect.pipe(withTenant(sql, tenantId), Effect.mapError(unavailable))
      })
      return MarketingContacts.of({ apply })
    })
  )
} as const
