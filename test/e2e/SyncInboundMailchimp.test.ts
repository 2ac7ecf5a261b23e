import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { connectOAuth } from "../support/SyncConnect.ts"
import { changeLines, latestJob, liveOf, readFeed, syncAppWith, syncToEnd } from "../support/SyncTestApp.ts"
import { type Caller, TestWorld } from "../support/TestApp.ts"

const tenant = "f4f4f4f4-0000-4000-8000-0000000000f4"
const venueId = "f4f4f4f4-1111-4000-8000-000000000001"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

const ids = (records: ReadonlyArray<{ readonly id: string }>) => records.map((r) => r.id).sort()

layer(syncAppWith(), { timeout: "240 seconds", excludeTestServices: true })(
  "mailchimp inbound sync over HTTP",
  (it) => {
    it.effect("full, incremental after adds, changes and archiving, full for permanent deletions, then nothing", () =>
      Effect.gen(function* () {
        const { mailchimp } = yield* TestWorld
        yield* connectOAuth("mailchimp", admin, venueId)
        // The OAuth flow's token opens the fake's own login; members go to its oldest audience, which the venue
        // has not replaced with another.
        const account = mailchimp.accountId
        const members = () => mailchimp.records(account, "contact")
        // Three pages of 1,000.
        mailchimp.seed(account, "contact", 2_500)

        const fullJobs = yield* syncToEnd("mailchimp", admin, venueId, { mode: "full" }, "mailchimp-full-1")
        assert.deepStrictEqual(
          fullJobs.map((j) => j.entityType),
          ["contact"]
        )
        const pages = mailchimp.dataRequests(account).filter((r) => r.path.includes("/members?"))
        assert.strictEqual(pages.length, 3, JSON.stringify(pages))
        const first = yield* readFeed("mailchimp", venueId, admin, null)
        assert.isTrue(first.changes.every((c) => c.change === "added" && c.mappingVersion === 0))
        assert.deepStrictEqual([...liveOf(first.changes, "contact").keys()].sort(), ids(members()))

        // Mapped through the default template.
        const statusOf = (status: string) => (status === "archived" ? "unsubscribed" : status)
        for (const member of [members()[0]!, members()[1_717]!, members()[2_499]!])
          assert.deepInclude(liveOf(first.changes, "contact").get(member.id)!.data, {
            id: member.id,
            email: member.email_address,
            givenName: member.merge_fields.FNAME,
            familyName: member.merge_fields.LNAME,
            status: statusOf(member.status)
          })

        // Changes at Mailchimp: archiving keeps the member with `status: "archived"` (a deletion an incremental
        // read shows); a permanent delete leaves nothing to read.
        const before = members()
        const expected: Array<string> = []
        for (let i = 0; i < 3; i++) {
          const added = mailchimp.upsertRecord(account, "contact", {
            email_address: `new${i}@example.test`,
            merge_fields: { FNAME: `New${i}` }
          })
          expected.push(`contact added ${added.id}`)
        }
        mailchimp.upsertRecord(account, "contact", {
          email_address: before[5]!.email_address,
          merge_fields: { FNAME: "Changed" }
        })
        mailchimp.upsertRecord(account, "contact", { email_address: before[1_999]!.email_address, status: "cleaned" })
        mailchimp.deleteRecord(account, "contact", before[1_200]!.id)
        expected.push(
          `contact updated ${before[5]!.id}`,
          `contact updated ${before[1_999]!.id}`,
          `contact deleted ${before[1_200]!.id}`
        )
        const vanished = [before[0]!.id, before[2_400]!.id]
        for (const id of vanished) mailchimp.deleteRecord(account, "contact", id, { permanent: true })

        const read = mailchimp.dataRequests(account).length
        yield* syncToEnd("mailchimp", admin, venueId, { mode: "incremental" }, "mailchimp-incremental-1")
        // Read as changes, not in full.
        const reads = mailchimp.dataRequests(account).slice(read)
        assert.isTrue(
          reads.some((r) => r.path.includes("since_last_changed=")),
          JSON.stringify(reads)
        )
        const second = yield* readFeed("mailchimp", venueId, admin, first.cursor)
        assert.deepStrictEqual(changeLines(second.changes), expected.sort())
        const changed = second.changes.find((c) => c.externalId === before[5]!.id)
        assert.strictEqual(changed.data.givenName, "Changed")
        const cleaned = second.changes.find((c) => c.externalId === before[1_999]!.id)
        assert.strictEqual(cleaned.data.status, "cleaned")

        // Members deleted for good only show as missing from the next full pass.
        yield* syncToEnd("mailchimp", admin, venueId, { mode: "full" }, "mailchimp-full-2")
        const third = yield* readFeed("mailchimp", venueId, admin, second.cursor)
        assert.deepStrictEqual(changeLines(third.changes), vanished.map((id) => `contact deleted ${id}`).sort())
        const all = [...first.changes, ...second.changes, ...third.changes]
        assert.deepStrictEqual([...liveOf(all, "contact").keys()].sort(), ids(members()))

        // Nothing changed: nothing written, nothing in the feed.
        yield* syncToEnd("mailchimp", admin, venueId, { mode: "incremental" }, "mailchimp-incremental-2")
        const after = yield* readFeed("mailchimp", venueId, admin, third.cursor)
        assert.deepStrictEqual(after.changes, [])
        const latest = yield* latestJob("mailchimp", venueId, admin, "contact")
        assert.strictEqual(latest.status, "completed")
        assert.strictEqual(latest.mode, "incremental")
        assert.deepStrictEqual(
          [latest.counts.created, latest.counts.updated, latest.counts.deleted],
          [0, 0, 0],
          JSON.stringify(latest)
        )
      })
    )
  }
)
