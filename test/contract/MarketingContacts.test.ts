import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  MemoryMarketingContacts,
  MemoryMarketingContactsControl,
  type SyncedContact
} from "../../adapters/memory/MemoryMarketingContacts.ts"
import { PostgresMarketingContacts } from "../../adapters/postgres/PostgresMarketingContacts.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { type ContactChange, MarketingContacts } from "../../ports/MarketingContacts.ts"
import {
  type ConnectionSetup,
  memoryConnectionSetup,
  postgresConnectionSetup,
  setUpConnection
} from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/** Reads back the synced copy of contacts, outside the port under test. */
class Harness extends Context.Service<
  Harness,
  {
    readonly contacts: (connection: Connection) => Effect.Effect<ReadonlyArray<SyncedContact>>
  }
>()("integration-service/test/MarketingContactsHarness") {}

const memory = Layer.effect(
  Harness,
  Effect.map(MemoryMarketingContactsControl, (control) =>
    Harness.of({ contacts: (c) => control.contacts(c.tenantId, c.id) })
  )
).pipe(Layer.provideMerge(Layer.mergeAll(MemoryMarketingContacts.layer, memoryConnectionSetup)))

const postgres = Layer.effect(
  Harness,
  Effect.gen(function* () {
    const owner = yield* OwnerSql
    return Harness.of({
      contacts: (c) =>
        owner<SyncedContact>`SELECT external_id, data FROM synced_records
          WHERE tenant_id = ${c.tenantId} AND connection_id = ${c.id} AND entity_type = 'contact'
          ORDER BY external_id COLLATE "C"`.pipe(Effect.orDie)
    })
  })
).pipe(
  Layer.provideMerge(Layer.mergeAll(PostgresMarketingContacts.layer, postgresConnectionSetup)),
  Layer.provide(OwnerSql.layer),
  Layer.provide(TestDatabase)
)

const mailchimp = (tenantId: TenantId = tenantA) => setUpConnection(tenantId, "mailchimp")

const apply = (c: Connection, change: ContactChange) =>
  Effect.flatMap(MarketingContacts, (contacts) => contacts.apply(c.tenantId, c.id, change))

const contactsOf = (c: Connection) =>
  Effect.map(
    Effect.flatMap(Harness, (h) => h.contacts(c)),
    (all) => all.map((x) => ({ externalId: x.externalId, data: { ...x.data } }))
  )

const withdrawn = (email: string, memberId: string | null = "m1", reason = "manual"): ContactChange => ({
  _tag: "ConsentWithdrawn",
  email,
  memberId,
  reason
})

const changed = (oldEmail: string, newEmail: string, memberId: string | null = "m2"): ContactChange => ({
  _tag: "EmailChanged",
  oldEmail,
  newEmail,
  memberId
})

const contract = (name: string, stack: Layer.Layer<MarketingContacts | Harness | ConnectionSetup>) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`MarketingContacts contract: ${name}`, (it) => {
    it.effect("a withdrawn consent creates the contact, keyed by its lower-cased email", () =>
      Effect.gen(function* () {
        const c = yield* mailchimp()
        yield* apply(c, withdrawn("Fan@Example.com"))
        assert.deepStrictEqual(yield* contactsOf(c), [
          {
            externalId: "fan@example.com",
            data: { email: "Fan@Example.com", marketingConsent: false, consentReason: "manual", memberId: "m1" }
          }
        ])
      })
    )

    it.effect("a later change merges into what the contact held", () =>
      Effect.gen(function* () {
        const c = yield* mailchimp()
        yield* apply(c, withdrawn("fan@example.com"))
        yield* apply(c, withdrawn("FAN@example.com", null, "abuse"))
        assert.deepStrictEqual(yield* contactsOf(c), [
          {
            externalId: "fan@example.com",
            data: { email: "FAN@example.com", marketingConsent: false, consentReason: "abuse", memberId: "m1" }
          }
        ])
      })
    )

    it.effect("an email change re-keys the contact and keeps what it held", () =>
      Effect.gen(function* () {
        const c = yield* mailchimp()
        yield* apply(c, withdrawn("fan@example.com"))
        yield* apply(c, changed("Fan@Example.com", "New@Example.com"))
        assert.deepStrictEqual(yield* contactsOf(c), [
          {
            externalId: "new@example.com",
            data: {
              email: "New@Example.com",
              previousEmail: "Fan@Example.com",
              marketingConsent: false,
              consentReason: "manual",
              memberId: "m2"
            }
          }
        ])
      })
    )

    it.effect("an email change for a contact never synced creates it under the new address", () =>
      Effect.gen(function* () {
        const c = yield* mailchimp()
        yield* apply(c, changed("old@example.com", "new@example.com", null))
        assert.deepStrictEqual(yield* contactsOf(c), [
          { externalId: "new@example.com", data: { email: "new@example.com", previousEmail: "old@example.com" } }
        ])
      })
    )

    it.effect("when both addresses are known, the old contact stays and the new one takes the change", () =>
      Effect.gen(function* () {
        const c = yield* mailchimp()
        yield* apply(c, withdrawn("old@example.com", "m1", "manual"))
        yield* apply(c, withdrawn("new@example.com", "m9", "abuse"))
        yield* apply(c, changed("old@example.com", "new@example.com", null))
        assert.deepStrictEqual(yield* contactsOf(c), [
          {
            externalId: "new@example.com",
            data: {
              email: "new@example.com",
              previousEmail: "old@example.com",
              marketingConsent: false,
              consentReason: "abuse",
              memberId: "m9"
            }
          },
          {
            externalId: "old@example.com",
            data: { email: "old@example.com", marketingConsent: false, consentReason: "manual", memberId: "m1" }
          }
        ])
      })
    )

    it.effect("contacts belong to their connection and tenant", () =>
      Effect.gen(function* () {
        const mine = yield* mailchimp(tenantA)
        const other = yield* mailchimp(tenantA)
        const theirs = yield* mailchimp(tenantB)
        yield* apply(mine, withdrawn("fan@example.com", "m1", "manual"))
        yield* apply(theirs, withdrawn("fan@example.com", "t1", "abuse"))
        yield* apply(other, changed("fan@example.com", "moved@example.com"))
        assert.deepStrictEqual(
          (yield* contactsOf(mine)).map((x) => [x.externalId, x.data.memberId]),
          [["fan@example.com", "m1"]]
        )
        assert.deepStrictEqual(
          (yield* contactsOf(theirs)).map((x) => [x.externalId, x.data.memberId]),
          [["fan@example.com", "t1"]]
        )
        assert.deepStrictEqual(
          (yield* contactsOf(other)).map((x) => x.externalId),
          ["moved@example.com"]
        )
      })
    )
  })

describe("MarketingContacts contract", () => {
  contract("memory", memory)
  contract("postgres", postgres)
})
