import { createHash } from "node:crypto"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { makeMailchimpData } from "../../adapters/providers/mailchimp/MailchimpData.ts"
import { makeMailchimpWrites, subscriberHash } from "../../adapters/providers/mailchimp/MailchimpWrites.ts"
import type { Contact } from "../../domain/canonical/Contact.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import { sidesOf } from "../../domain/mapping/Catalogs.ts"
import { compileRules } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { DataCredential } from "../../ports/sync/ProviderData.ts"
import type { ExternalLink, OutboundItem, ProviderWriter, WriteRequest } from "../../ports/sync/ProviderWrites.ts"
import { type FakeMailchimp, startFakeMailchimp } from "../sandbox/FakeMailchimp.ts"
import { byPlatformId, failureOf, linkOf, noRecords, readPass } from "../support/WriterContract.ts"

let fake: FakeMailchimp
beforeAll(async () => {
  fake = await startFakeMailchimp()
})
afterAll(() => fake.close())

let accounts = 0
/** Each test writes to its own account, so members, counts and request logs never mix. */
const newAccount = () => `us19:${7000 + ++accounts}`
const oldest = "5b3a7e9c21"
const other = "a1f0c3d2e4"

const settings = { MAILCHIMP_BATCH_POLL_INTERVAL: "5 millis" }
const writer = makeMailchimpWrites.pipe(
  Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(settings))),
  Effect.orDie
)
const reader = makeMailchimpData.pipe(
  Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))),
  Effect.orDie
)

const credential = (account: string, audienceId: string | null = oldest): DataCredential => ({
  token: Redacted.make(fake.issueToken(account)),
  accountId: account,
  extra: { dc: fake.dc, apiEndpoint: fake.url },
  audienceId
})

/** The default outbound mapping, as the engine runs it: canonical contact → the writer's `fields`. */
const outbound = compileRules(
  defaultTemplate("mailchimp", "contact", "outbound")!.rules,
  sidesOf("mailchimp", "contact", "outbound").targets
)
const fieldsOf = (contact: Contact) => {
  const mapped = outbound(contact)
  assert.deepStrictEqual(mapped.errors, [])
  return mapped.output
}

const contact = (id: string, email: string, givenName = "Ada", status: Contact["status"] = "subscribed"): Contact => ({
  id,
  email,
  givenName,
  familyName: "Lovelace",
  status
})

const keyOf = (platformId: string, version: number) =>
  createHash("sha256").update(`conn-1/contact/${platformId}/${version}`).digest("hex").slice(0, 32)

const push = (c: Contact, version = 1, link: ExternalLink | null = null): OutboundItem => ({
  platformId: c.id,
  version,
  fields: fieldsOf(c),
  deleted: false,
  link,
  idempotencyKey: keyOf(c.id, version)
})

const deletion = (platformId: string, link: ExternalLink | null, version = 9): OutboundItem => ({
  platformId,
  version,
  fields: null,
  deleted: true,
  link,
  idempotencyKey: keyOf(platformId, version)
})

/** The writer's calls, as `call` saw them. */
const run = (
  write: ProviderWriter,
  cred: DataCredential,
  items: ReadonlyArray<OutboundItem>,
  calls: Array<string> = []
) => {
  const links = new Map<string, string>()
  const request: WriteRequest<never> = {
    entityType: "contact",
    credential: cred,
    items,
    call: (operation, effect) => {
      calls.push(operation)
      return effect
    },
    linkOf: (entityType: EntityType, platformId: string) =>
      Effect.succeed(links.get(`${entityType}/${platformId}`) ?? null),
    recordsOf: noRecords
  }
  return write.write(request)
}

/** The whole audience as the reader reads it. */
const readAll = (cred: DataCredential) =>
  Effect.flatMap(reader, (data) =>
    readPass(data, { entityType: "contact", credential: cred, mode: "full", since: null })
  )

const apiRequests = (account: string) => fake.dataRequests(account).map((r) => r.path.replace(/\?.*$/, ""))

describe("MailchimpWrites against the sandbox fake", () => {
  it.live("create → update → archive: one member, PUT by its address's hash, then DELETE archives it", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const calls: Array<string> = []
      const ada = contact("c-1", "Ada.Lovelace@Stage.example")

      const [created] = yield* run(write, cred, [push(ada)], calls)
      assert.strictEqual(created?.outcome, "created")
      const hash = subscriberHash("ada.lovelace@stage.example")
      assert.strictEqual(linkOf(created).externalId, hash)
      assert.deepStrictEqual(apiRequests(account), [`/3.0/lists/${oldest}/members/${hash}`])
      const stored = fake.member(account, "contact", hash)
      assert.strictEqual(stored?.status, "subscribed")
      assert.deepStrictEqual(stored?.merge_fields.FNAME, "Ada")
      // What an inbound read returns is what the write answered: our own write reads back unchanged.
      const read = yield* readAll(cred)
      assert.deepStrictEqual(
        read.map((r) => r.externalId),
        [hash]
      )
      assert.deepStrictEqual(read[0]?.raw, linkOf(created).raw)

      const [updated] = yield* run(write, cred, [push({ ...ada, givenName: "Augusta" }, 2, linkOf(created))], calls)
      assert.strictEqual(updated?.outcome, "updated")
      assert.strictEqual(fake.member(account, "contact", hash)?.merge_fields.FNAME, "Augusta")
      assert.strictEqual(fake.creations(account, "contact"), 1)

      const [archived] = yield* run(write, cred, [deletion("c-1", linkOf(updated))], calls)
      assert.strictEqual(archived?.outcome, "archived")
      assert.strictEqual(fake.member(account, "contact", hash)?.status, "archived")
      assert.deepStrictEqual(fake.records(account, "contact"), [])
      if (archived?.outcome === "archived") assert.strictEqual(archived.raw.status, "archived")
      assert.deepStrictEqual(calls, ["write_contact", "write_contact", "archive_contact"])
      assert.deepStrictEqual(
        fake.dataRequests(account).map((r) => r.path),
        [
          `/3.0/lists/${oldest}/members/${hash}`,
          `/3.0/lists/${oldest}/members?count=1000&offset=0`,
          `/3.0/lists/${oldest}/members/${hash}`,
          `/3.0/lists/${oldest}/members/${hash}`
        ]
      )
    })
  )

  it.live("the same push replayed with the same key after its answer was lost adds no second member", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const items = [push(contact("c-1", "grace@hopper.example")), push(contact("c-2", "alan@turing.example"))]
      yield* run(write, cred, items)
      // The engine never stored the outcomes (killed before its commit): it pushes the same items again.
      const again = yield* run(write, cred, items)
      assert.deepStrictEqual(
        again.map((o) => o.outcome),
        ["created", "created"]
      )
      assert.strictEqual(fake.creations(account, "contact"), 2)
      assert.strictEqual(fake.records(account, "contact").length, 2)
    })
  )

  it.live("a refused member names Mailchimp's reason; the other members of the write are written", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      fake.setComplianceState(account, "left@venue.example")
      const [forgotten] = yield* run(write, cred, [push(contact("forgotten", "forgotten@venue.example"))])
      fake.deleteRecord(account, "contact", linkOf(forgotten).externalId, { permanent: true })
      const outcomes = byPlatformId(
        yield* run(write, cred, [
          push(contact("ok-1", "one@venue.example")),
          push(contact("fake", "test@example.com")),
          push(contact("left", "left@venue.example")),
          push(contact("forgotten", "forgotten@venue.example"), 2),
          push(contact("ok-2", "two@venue.example")),
          deletion("never", null)
        ])
      )
      assert.strictEqual(outcomes.get("ok-1")?.outcome, "created")
      assert.strictEqual(outcomes.get("ok-2")?.outcome, "created")
      const reason = (id: string) => {
        const o = outcomes.get(id)
        return o?.outcome === "failed" ? o.reason : assert.fail(`${id} did not fail: ${JSON.stringify(o)}`)
      }
      assert.include(reason("fake"), "400 Invalid Resource")
      assert.include(reason("fake"), "test@example.com looks fake or invalid")
      assert.include(reason("left"), "Member In Compliance State")
      assert.include(reason("forgotten"), "Forgotten Email Not Subscribed")
      assert.include(reason("never"), "never pushed")
      assert.strictEqual(fake.creations(account, "contact"), 3)
    })
  )

  it.live("429, 5xx and 401 fail the whole write with their kind; 429 carries a wait", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const items = [push(contact("c-1", "one@venue.example")), push(contact("c-2", "two@venue.example"))]

      fake.inject({ status: 429, times: 1, accountId: account })
      const limited = yield* failureOf(run(write, cred, items))
      assert.strictEqual(limited.kind, "rate_limited")
      assert.strictEqual(limited.status, 429)
      assert.isAbove(limited.retryAfterMillis ?? 0, 0)

      fake.inject({ status: 429, retryAfterSeconds: 7, times: 2, accountId: account })
      const waited = yield* failureOf(run(write, cred, items))
      assert.strictEqual(waited.retryAfterMillis, 7000)
      fake.clearInjections()

      fake.inject({ status: 503, times: 2, accountId: account })
      assert.strictEqual((yield* failureOf(run(write, cred, items))).kind, "unavailable")
      fake.clearInjections()

      const revoked = fake.issueToken(account)
      fake.revokeToken(revoked)
      const unauthorized = yield* failureOf(run(write, { ...cred, token: Redacted.make(revoked) }, items))
      assert.strictEqual(unauthorized.kind, "unauthorized")
      assert.include(unauthorized.message, "API Key Invalid")
      assert.notInclude(unauthorized.message, revoked)

      // Run again after the failures: each member once.
      const outcomes = yield* run(write, cred, items)
      assert.deepStrictEqual(
        outcomes.map((o) => o.outcome),
        ["created", "created"]
      )
      assert.strictEqual(fake.creations(account, "contact"), 2)
    })
  )

  it.live("an audience that is gone fails the whole write (not_found), not each member", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const write = yield* writer
      const failed = yield* failureOf(
        run(write, credential(account, "0000000000"), [push(contact("c-1", "one@venue.example"))])
      )
      assert.strictEqual(failed.kind, "not_found")
      assert.include(failed.message, "Resource Not Found")
    })
  )

  it.live("a batch still running at MAILCHIMP_BATCH_TIMEOUT fails the write as unavailable", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const write = yield* makeMailchimpWrites.pipe(
        Effect.provide(
          ConfigProvider.layer(ConfigProvider.fromUnknown({ ...settings, MAILCHIMP_BATCH_TIMEOUT: "30 millis" }))
        ),
        Effect.orDie
      )
      fake.setBatchPolls(1000)
      const calls: Array<string> = []
      const items = Array.from({ length: 51 }, (_, i) => push(contact(`c-${i}`, `fan${i}@venue.example`)))
      const failed = yield* failureOf(run(write, credential(account), items, calls)).pipe(
        Effect.ensuring(Effect.sync(() => fake.setBatchPolls(2)))
      )
      assert.strictEqual(failed.kind, "unavailable")
      assert.include(failed.message, "was still started")
      assert.isAbove(calls.filter((c) => c === "read_batch_contact").length, 1)
      assert.notInclude(calls, "read_batch_results_contact")
    })
  )

  it.live("an address change PATCHes the same member to its new address; its id follows the address", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const [first] = yield* run(write, cred, [push(contact("c-1", "old@venue.example"))])
      const before = fake.member(account, "contact", subscriberHash("old@venue.example"))
      const calls: Array<string> = []
      const [moved] = yield* run(write, cred, [push(contact("c-1", "New@Venue.example"), 2, linkOf(first))], calls)
      assert.strictEqual(moved?.outcome, "updated")
      assert.strictEqual(linkOf(moved).externalId, subscriberHash("new@venue.example"))
      assert.strictEqual(fake.member(account, "contact", subscriberHash("old@venue.example")), undefined)
      const after = fake.member(account, "contact", subscriberHash("new@venue.example"))
      assert.strictEqual(after?.unique_email_id, before?.unique_email_id)
      assert.strictEqual(after?.email_address, "New@Venue.example")
      assert.strictEqual(fake.creations(account, "contact"), 1)
      assert.strictEqual(fake.dataRequests(account).at(-1)?.path, `/3.0/lists/${oldest}/members/${before?.id}`)
      assert.deepStrictEqual(calls, ["write_contact"])

      // A new address that is already another member: Mailchimp refuses, the item fails, nothing merges.
      const [other] = yield* run(write, cred, [push(contact("c-2", "taken@venue.example"))])
      const [clash] = yield* run(write, cred, [push(contact("c-2", "new@venue.example"), 2, linkOf(other))])
      assert.strictEqual(clash?.outcome, "failed")
      if (clash?.outcome === "failed") assert.include(clash.reason, "Member Exists")

      // The linked member was deleted for good at Mailchimp: it is made again at the new address.
      fake.deleteRecord(account, "contact", subscriberHash("taken@venue.example"), { permanent: true })
      const [again] = yield* run(write, cred, [push(contact("c-2", "fresh@venue.example"), 3, linkOf(other))])
      assert.strictEqual(again?.outcome, "created")
      assert.strictEqual(fake.member(account, "contact", subscriberHash("fresh@venue.example"))?.status, "subscribed")
      assert.strictEqual(fake.creations(account, "contact"), 3)
    })
  )

  it.live("status_if_new applies to new members only: a member's own status stays Mailchimp's", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const [made] = yield* run(write, cred, [push(contact("c-1", "pending@venue.example", "Ada", "pending"))])
      assert.strictEqual(fake.member(account, "contact", subscriberHash("pending@venue.example"))?.status, "pending")
      fake.upsertRecord(account, "contact", { email_address: "pending@venue.example", status: "unsubscribed" })
      yield* run(write, cred, [push(contact("c-1", "pending@venue.example", "Ada", "subscribed"), 2, linkOf(made))])
      assert.strictEqual(
        fake.member(account, "contact", subscriberHash("pending@venue.example"))?.status,
        "unsubscribed"
      )
    })
  )

  it.live("without a chosen audience the writer takes the account's oldest, like the reader", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const write = yield* writer
      const calls: Array<string> = []
      yield* run(write, credential(account, null), [push(contact("c-1", "one@venue.example"))], calls)
      assert.deepStrictEqual(calls, ["read_audiences", "write_contact"])
      assert.strictEqual(fake.records(account, "contact", { listId: oldest }).length, 1)
      yield* run(write, credential(account, other), [push(contact("c-1", "one@venue.example"))])
      assert.strictEqual(fake.records(account, "contact", { listId: other }).length, 1)
    })
  )

  it.live(
    "above 50 items one POST /batches carries every operation; polled to finished; results from its archive",
    () =>
      Effect.gen(function* () {
        const account = newAccount()
        const cred = credential(account)
        const write = yield* writer
        // Some members exist already (updates, an archive, an address change), the rest are new.
        const [kept, gone, moving, vanished] = yield* run(write, cred, [
          push(contact("kept", "kept@venue.example")),
          push(contact("gone", "gone@venue.example")),
          push(contact("moving", "moving@venue.example")),
          push(contact("vanished", "vanished@venue.example"))
        ])
        fake.deleteRecord(account, "contact", linkOf(vanished).externalId, { permanent: true })
        fake.setComplianceState(account, "left@venue.example")
        const fresh = Array.from({ length: 60 }, (_, i) => push(contact(`n-${i}`, `member${i}@venue.example`)))
        const items = [
          ...fresh,
          push(contact("kept", "kept@venue.example", "Kept"), 2, linkOf(kept)),
          deletion("gone", linkOf(gone)),
          push(contact("moving", "moved@venue.example"), 2, linkOf(moving)),
          push(contact("vanished", "back@venue.example"), 2, linkOf(vanished)),
          push(contact("fake", "fake@test.com")),
          push(contact("left", "left@venue.example"))
        ]
        const before = apiRequests(account).length
        const downloads = fake.archiveDownloads()
        const calls: Array<string> = []
        const outcomes = byPlatformId(yield* run(write, cred, items, calls))

        // The re-addressed member that vanished (PATCH 404 in the batch) is PUT again on its own afterwards.
        assert.deepStrictEqual(calls, [
          "batch_upsert_contact",
          "read_batch_contact",
          "read_batch_contact",
          "read_batch_results_contact",
          "write_contact"
        ])
        const batches = fake.batches(account)
        assert.strictEqual(batches.length, 1)
        assert.strictEqual(batches[0]?.operations, items.length)
        assert.strictEqual(batches[0]?.errored, 3)
        assert.deepStrictEqual(apiRequests(account).slice(before), [
          "/3.0/batches",
          `/3.0/batches/${batches[0]?.id}`,
          `/3.0/batches/${batches[0]?.id}`,
          `/3.0/lists/${oldest}/members/${subscriberHash("back@venue.example")}`
        ])
        assert.strictEqual(fake.archiveDownloads() - downloads, 1)

        assert.strictEqual(outcomes.size, items.length)
        for (const i of fresh) assert.strictEqual(outcomes.get(i.platformId)?.outcome, "created")
        assert.strictEqual(outcomes.get("kept")?.outcome, "updated")
        assert.strictEqual(
          fake.member(account, "contact", subscriberHash("kept@venue.example"))?.merge_fields.FNAME,
          "Kept"
        )
        assert.strictEqual(outcomes.get("gone")?.outcome, "archived")
        assert.strictEqual(fake.member(account, "contact", subscriberHash("gone@venue.example"))?.status, "archived")
        assert.strictEqual(linkOf(outcomes.get("moving")).externalId, subscriberHash("moved@venue.example"))
        assert.strictEqual(outcomes.get("vanished")?.outcome, "created")
        assert.strictEqual(linkOf(outcomes.get("vanished")).externalId, subscriberHash("back@venue.example"))
        const reason = (id: string) => {
          const o = outcomes.get(id)
          return o?.outcome === "failed" ? o.reason : assert.fail(`${id} did not fail`)
        }
        assert.include(reason("fake"), "400 Invalid Resource: fake@test.com looks fake or invalid")
        assert.include(reason("left"), "400 Member In Compliance State")
        // The outcome's raw is the member as a read shows it.
        const n0 = outcomes.get("n-0")
        assert.deepStrictEqual<unknown>(
          n0?.outcome === "created" ? n0.raw : null,
          fake.member(account, "contact", subscriberHash("member0@venue.example"))
        )
        assert.strictEqual(fake.creations(account, "contact"), 4 + 60 + 1)
      })
  )

  it.live("a batch resubmitted after a crash re-PUTs the same members: no duplicates", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const items = Array.from({ length: 80 }, (_, i) => push(contact(`c-${i}`, `fan${i}@venue.example`)))
      // The first run submits its batch, then Mailchimp stops answering while it polls (as if the process died
      // waiting): the write fails with the batch already applied.
      let polls = 0
      const failing: WriteRequest<never> = {
        entityType: "contact",
        credential: cred,
        items,
        call: (operation, effect) => {
          if (operation === "read_batch_contact" && polls++ === 0) fake.inject({ status: 503, accountId: account })
          return effect
        },
        linkOf: () => Effect.succeed(null),
        recordsOf: noRecords
      }
      const crashed = yield* failureOf(write.write(failing))
      assert.strictEqual(crashed.kind, "unavailable")
      fake.clearInjections()
      assert.strictEqual(fake.batches(account).length, 1)
      assert.strictEqual(fake.creations(account, "contact"), 80)

      // …and runs again with the same keys: a second batch, the same 80 members.
      const outcomes = yield* run(write, cred, items)
      assert.strictEqual(outcomes.length, 80)
      assert.isTrue(outcomes.every((o) => o.outcome === "created"))
      assert.strictEqual(fake.batches(account).length, 2)
      assert.strictEqual(fake.creations(account, "contact"), 80)
      assert.strictEqual(fake.records(account, "contact").length, 80)
    })
  )

  it.live("an archive that cannot be downloaded fails the whole write; the write run again duplicates nothing", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const items = Array.from({ length: 51 }, (_, i) => push(contact(`c-${i}`, `fan${i}@venue.example`)))
      fake.injectArchiveFailure(500)
      const failed = yield* failureOf(run(write, cred, items))
      assert.strictEqual(failed.kind, "unavailable")
      assert.notInclude(failed.message, "Signature")
      const outcomes = yield* run(write, cred, items)
      assert.isTrue(outcomes.every((o) => o.outcome === "created"))
      assert.strictEqual(fake.creations(account, "contact"), 51)
    })
  )

  it.live("10,000 members in two writes of batchSize: 8 requests in all (≤ 20), each member once", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const cred = credential(account)
      const write = yield* writer
      const size = write.batchSize("contact")
      assert.strictEqual(size, 5000)
      const items = Array.from({ length: 10_000 }, (_, i) => push(contact(`c-${i}`, `patron${i}@venue.example`)))
      const downloads = fake.archiveDownloads()
      const calls: Array<string> = []
      const outcomes = [
        ...(yield* run(write, cred, items.slice(0, size), calls)),
        ...(yield* run(write, cred, items.slice(size), calls))
      ]
      const requests = apiRequests(account).length + (fake.archiveDownloads() - downloads)
      // Per write: POST /batches, two status reads, one archive download.
      assert.strictEqual(requests, 8)
      assert.isAtMost(requests, 20)
      assert.strictEqual(calls.length, 8)
      assert.strictEqual(outcomes.length, 10_000)
      assert.isTrue(outcomes.every((o) => o.outcome === "created"))
      assert.strictEqual(fake.creations(account, "contact"), 10_000)
      assert.strictEqual(fake.records(account, "contact").length, 10_000)
    })
  )

  it.live("two records of one push with the same address: the second fails rather than share the member", () =>
    Effect.gen(function* () {
      const account = newAccount()
      const write = yield* writer
      const outcomes = byPlatformId(
        yield* run(write, credential(account), [
          push(contact("a", "same@venue.example")),
          push(contact("b", "SAME@venue.example"))
        ])
      )
      assert.strictEqual(outcomes.get("a")?.outcome, "created")
      assert.strictEqual(outcomes.get("b")?.outcome, "failed")
      assert.strictEqual(fake.creations(account, "contact"), 1)
    })
  )
})
