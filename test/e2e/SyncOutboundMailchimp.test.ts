import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { subscriberHash } from "../sandbox/FakeMailchimpData.ts"
import {
  assertAllUnchanged,
  countsSince,
  outboundJobs,
  putRecords,
  removeRecord,
  startFullOutbound
} from "../support/OutboundTestApp.ts"
import { connectMailchimp } from "../support/SyncConnect.ts"
import { jobsSettled, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "0d000000-0000-4000-8000-0000000000d1"
const venue = (n: number) => `0d000000-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

/** Platform ids are the tenant's: each test has its own `prefix`. */
const contact = (
  i: number,
  version: number,
  { givenName = `Given${i}`, email = `fan${i}@venue-mail.test`, prefix = "mc-fan" } = {}
) => ({
  id: `${prefix}-${i}`,
  version,
  data: {
    email,
    givenName,
    familyName: `Family${i}`,
    // Every seventh fan opted out on the platform: added to the audience as unsubscribed.
    status: i % 7 === 0 ? "unsubscribed" : "subscribed"
  }
})
type Contact = ReturnType<typeof contact>

/** What the default outbound template makes of a contact, as Mailchimp keeps a member it added. */
const memberOf = (record: Contact) => ({
  email_address: record.data.email,
  status: record.data.status,
  FNAME: record.data.givenName,
  LNAME: record.data.familyName
})

const memberAt = (member: any) =>
  member === undefined
    ? undefined
    : {
        email_address: member.email_address,
        status: member.status,
        FNAME: member.merge_fields.FNAME,
        LNAME: member.merge_fields.LNAME
      }

/** The fake's counters for the account, to compare a push's calls against. */
const counters = Effect.gen(function* () {
  const { mailchimp } = yield* TestWorld
  const account = mailchimp.accountId
  return {
    requests: mailchimp.dataRequests(account).length,
    downloads: mailchimp.archiveDownloads(),
    batches: mailchimp.batches(account).length,
    creations: mailchimp.creations(account, "contact")
  }
})

/**
 * Pushes 1,000 contacts (`prefix`-0…999) and checks they went through one batch: `POST /batches`, its polls and one
 * archive download, nothing one member at a time, at most 20 calls; 1,000 members added.
 */
const pushInOneBatch = (venueId: string, prefix: string) =>
  Effect.gen(function* () {
    const { mailchimp } = yield* TestWorld
    const account = mailchimp.accountId
    const platform = new Map(Array.from({ length: 1000 }, (_, i) => [i, contact(i, 1, { prefix })] as const))
    const before = yield* counters
    yield* putRecords(admin, venueId, "contact", [...platform.values()])
    yield* jobsSettled("mailchimp", venueId, admin)
    const jobs = yield* outboundJobs("mailchimp", venueId, admin, "contact")
    assert.deepStrictEqual(
      jobs.map((j) => [j.status, j.counts.created, j.counts.failed]),
      [["completed", 1000, 0]],
      JSON.stringify(jobs.map((j) => j.counts))
    )
    const after = yield* counters
    assert.strictEqual(after.creations - before.creations, 1000)
    const calls = mailchimp
      .dataRequests(account)
      .slice(before.requests)
      .map((r) => r.path)
    const batches = mailchimp.batches(account).slice(before.batches)
    assert.deepStrictEqual(
      batches.map((b) => [b.operations, b.errored, b.status]),
      [[1000, 0, "finished"]],
      "one batch"
    )
    assert.deepStrictEqual(
      calls.filter((p) => !p.startsWith(`/3.0/batches/${batches[0]!.id}`)),
      ["/3.0/batches"],
      JSON.stringify(calls)
    )
    assert.strictEqual(after.downloads - before.downloads, 1)
    assert.isAtMost(calls.length + 1, 20, JSON.stringify(calls))
    return { platform, before }
  })

/** Batches are polled every 50 ms at first (doubling), so a test's batch finishes in a fraction of a second. */
const settings = { SYNC_OUTBOUND_DEBOUNCE: "3 seconds", MAILCHIMP_BATCH_POLL_INTERVAL: "50 millis" }

layer(syncAppWith(settings), { timeout: "300 seconds", excludeTestServices: true })(
  "outbound sync to Mailchimp over HTTP",
  (it) => {
    it.effect(
      "1,000 contacts in one batch, 10 % changed and 1 % archived: the audience equals the mapped platform; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { mailchimp } = yield* TestWorld
          const account = mailchimp.accountId
          const venueId = venue(1)
          // Not the account's oldest audience: the one the venue chose.
          const listId = mailchimp.audiences()[1]!.id
          yield* connectMailchimp(admin, venueId, listId)
          const members = () =>
            new Map(mailchimp.records(account, "contact", { listId }).map((m) => [m.email_address, m]))

          const { platform, before } = yield* pushInOneBatch(venueId, "mc-fan")
          const [first] = yield* outboundJobs("mailchimp", venueId, admin, "contact")

          // 100 changed — every tenth renamed, five of them moving to a new address — and 10 deleted.
          const changed = Array.from({ length: 100 }, (_, k) => {
            const i = k * 10
            const record = contact(i, 2, {
              givenName: `Renamed${i}`,
              ...(k % 20 === 0 ? { email: `moved${i}@venue-mail.test` } : {})
            })
            platform.set(i, record)
            return record
          })
          yield* putRecords(admin, venueId, "contact", changed)
          const deleted = Array.from({ length: 10 }, (_, k) => k * 100 + 5)
          const archivedHashes = deleted.map((i) => subscriberHash(platform.get(i)!.data.email))
          for (const i of deleted) {
            yield* removeRecord(admin, venueId, "contact", `mc-fan-${i}`)
            platform.delete(i)
          }
          yield* jobsSettled("mailchimp", venueId, admin)
          assert.deepStrictEqual(yield* countsSince("mailchimp", venueId, admin, "contact", first), {
            created: 0,
            updated: 100,
            deleted: 10,
            failed: 0
          })

          const atMailchimp = members()
          assert.strictEqual(atMailchimp.size, 990, "the deleted contacts are archived, not live")
          for (const [, record] of platform)
            assert.deepStrictEqual(memberAt(atMailchimp.get(record.data.email)), memberOf(record), record.id)
          for (const hash of archivedHashes)
            assert.strictEqual(mailchimp.member(account, "contact", hash, { listId })?.status, "archived")
          // A moved address is the same member re-addressed, not a second one.
          assert.isUndefined(atMailchimp.get("fan0@venue-mail.test"))
          assert.strictEqual((yield* counters).creations - before.creations, 1000, "no contact was added twice")

          // A full outbound pass over unchanged records sends nothing.
          const quiet = yield* counters
          yield* startFullOutbound("mailchimp", admin, venueId, "contact", "mailchimp-outbound-full-1")
          yield* jobsSettled("mailchimp", venueId, admin)
          assert.deepStrictEqual(yield* counters, quiet, "a pass over unchanged records sends nothing")
          const [full] = yield* outboundJobs("mailchimp", venueId, admin, "contact")
          assertAllUnchanged(full, 1000)
        })
    )

    it.effect(
      "members Mailchimp refuses in a batch (a fake-looking address, a compliance state) fail with its reason; the rest are written",
      () =>
        Effect.gen(function* () {
          const { mailchimp } = yield* TestWorld
          const account = mailchimp.accountId
          const venueId = venue(2)
          const listId = mailchimp.audiences()[0]!.id
          yield* connectMailchimp(admin, venueId, listId)
          const fakeLooking = "someone@example.com"
          const lapsed = "lapsed@venue-mail.test"
          mailchimp.setComplianceState(account, lapsed, { listId })

          const records = Array.from({ length: 60 }, (_, i) => contact(i + 1, 1, { prefix: "mc-refused" }))
          records[10] = contact(11, 1, { prefix: "mc-refused", email: fakeLooking })
          records[21] = contact(22, 1, { prefix: "mc-refused", email: lapsed })
          const before = yield* counters
          yield* putRecords(admin, venueId, "contact", records)
          yield* jobsSettled("mailchimp", venueId, admin)

          const batches = mailchimp.batches(account).slice(before.batches)
          assert.deepStrictEqual(
            batches.map((b) => [b.operations, b.errored]),
            [[60, 2]],
            "above the threshold: one batch"
          )
          const [job] = yield* outboundJobs("mailchimp", venueId, admin, "contact")
          assert.deepStrictEqual(
            [job.status, job.counts.created, job.counts.failed],
            ["completed", 58, 2],
            JSON.stringify(job.counts)
          )
          const warnings = (job.logs as ReadonlyArray<any>).filter((l) => l.level === "warn").map((l) => l.message)
          const logged = (platformId: string, reason: string) =>
            assert.isTrue(
              warnings.some((m: string) => m.startsWith(`${platformId}:`) && m.includes(reason)),
              JSON.stringify(warnings)
            )
          logged("mc-refused-11", `${fakeLooking} looks fake or invalid`)
          logged("mc-refused-22", "Member In Compliance State")
          assert.strictEqual(warnings.length, 2, JSON.stringify(warnings))

          const atMailchimp = new Map(
            mailchimp.records(account, "contact", { listId }).map((m) => [m.email_address, m])
          )
          assert.strictEqual(atMailchimp.size, 58)
          for (const record of records) {
            const refused = record.data.email === fakeLooking || record.data.email === lapsed
            assert.deepStrictEqual(
              memberAt(atMailchimp.get(record.data.email)),
              refused ? undefined : memberOf(record),
              record.id
            )
          }
          assert.strictEqual((yield* counters).creations - before.creations, 58)

          // A full pass again: the 58 written are unchanged and not sent; only the two refused are tried again, one
          // call each (below the batch threshold), and refused again.
          const quiet = yield* counters
          const again = yield* startSync(
            "mailchimp",
            admin,
            { venueId, entityTypes: ["contact"], direction: "outbound", mode: "full" },
            { "idempotency-key": "mailchimp-outbound-full-2" }
          )
          assert.strictEqual(again.status, 202, again.text)
          yield* jobsSettled("mailchimp", venueId, admin)
          const resent = mailchimp
            .dataRequests(account)
            .slice(quiet.requests)
            .map((r) => r.path)
            .sort()
          assert.deepStrictEqual(
            resent,
            [fakeLooking, lapsed].map((email) => `/3.0/lists/${listId}/members/${subscriberHash(email)}`).sort()
          )
          const [full] = yield* outboundJobs("mailchimp", venueId, admin, "contact")
          assert.deepStrictEqual(
            [full.status, full.counts.fetched, full.counts.unchanged, full.counts.created, full.counts.failed],
            ["completed", 60, 58, 0, 2],
            JSON.stringify(full.counts)
          )
          assert.deepStrictEqual(yield* counters, { ...quiet, requests: quiet.requests + 2 })
        })
    )
  }
)
