import { Context, Effect, Layer } from "effect"
import type { ConnectionId, TenantId } from "../../domain/Ids.ts"
import { type ContactChange, MarketingContacts } from "../../ports/MarketingContacts.ts"

/** A synced contact: its key (the lower-cased email) and what is known of it. */
export interface SyncedContact {
  readonly externalId: string
  readonly data: Readonly<Record<string, unknown>>
}

/** Shows tests the synced contacts of a connection. */
export class MemoryMarketingContactsControl extends Context.Service<
  MemoryMarketingContactsControl,
  {
    readonly contacts: (tenantId: TenantId, connectionId: ConnectionId) => Effect.Effect<ReadonlyArray<SyncedContact>>
  }
>()("integration-service/adapters/memory/MemoryMarketingContactsControl") {}

const make = Effect.sync(() => {
  /** Per connection (`tenant|connection`), contacts by key. */
  const records = new Map<string, Map<string, Readonly<Record<string, unknown>>>>()
  const contactsOf = (tenantId: TenantId, connectionId: ConnectionId) => {
    const key = `${tenantId}|${connectionId}`
    let contacts = records.get(key)
    if (contacts === undefined) {
      contacts = new Map()
      records.set(key, contacts)
    }
    return contacts
  }

  /** A change merges into what the record held, key by key, as jsonb `||` does. */
  const merge = (contacts: Map<string, Readonly<Record<string, unknown>>>, key: string, patch: object) => {
    contacts.set(key, { ...contacts.get(key), ...patch })
  }

  const apply = (tenantId: TenantId, connectionId: ConnectionId, change: ContactChange) =>
    Effect.sync(() => {
      const contacts = contactsOf(tenantId, connectionId)
      const member = (memberId: string | null) => (memberId === null ? {} : { memberId })
      if (change._tag === "ConsentWithdrawn") {
        merge(contacts, change.email.toLowerCase(), {
          email: change.email,
          marketingConsent: false,
          consentReason: change.reason,
          ...member(change.memberId)
        })
        return
      }
      const oldKey = change.oldEmail.toLowerCase()
      const newKey = change.newEmail.toLowerCase()
      const previous = contacts.get(oldKey)
      // Re-keyed so later syncs find it under the new address, keeping what it held.
      if (previous !== undefined && !contacts.has(newKey)) {
        contacts.delete(oldKey)
        contacts.set(newKey, { ...previous, email: change.newEmail })
      }
      merge(contacts, newKey, { email: change.newEmail, previousEmail: change.oldEmail, ...member(change.memberId) })
    }).pipe(Effect.withSpan("MemoryMarketingContacts.apply", { attributes: { "contact.change": change._tag } }))

  const contacts = (tenantId: TenantId, connectionId: ConnectionId) =>
    Effect.sync(() =>
      [...contactsOf(tenantId, connectionId)]
        .map(([externalId, data]) => ({ externalId, data }))
        .sort((a, b) => (a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0))
    )

  return Context.make(MarketingContacts, MarketingContacts.of({ apply })).pipe(
    Context.add(MemoryMarketingContactsControl, MemoryMarketingContactsControl.of({ contacts }))
  )
})

/** Synced marketing contacts in process memory, keyed per connection by lower-cased email. */
export const MemoryMarketingContacts = {
  layer: Layer.effectContext(make)
}
