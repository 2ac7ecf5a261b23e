import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { asTenant, type Caller, call, TestApp } from "../support/TestApp.ts"

const tenant = "eeeeeeee-0000-4000-8000-0000000000e6"
const otherTenant = "eeeeeeee-0000-4000-8000-0000000000e7"
const venue = "eeeeeeee-6666-4000-8000-000000000001"
const otherVenue = "eeeeeeee-6666-4000-8000-000000000002"
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const venueAdmin: Caller = { tenantId: tenant, venueIds: [otherVenue], role: "venue_admin" }
const viewer: Caller = { tenantId: tenant, venueIds: [venue], role: "viewer" }
const outsider: Caller = { tenantId: otherTenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations/platform"

const customer = (n: number, version: number, email = `fan${n}@example.test`) => ({
  id: `cust-${n}`,
  version,
  data: { email, givenName: "Fan", familyName: `Number ${n}`, marketingConsent: "granted" }
})

const rows = asTenant(
  tenant,
  (sql) => sql`SELECT id, version, deleted, data->>'email' AS email, change_seq FROM platform_records ORDER BY id`
)

layer(TestApp, { timeout: "60 seconds", excludeTestServices: true })("the platform's records", (it) => {
  it.effect("a batch is validated whole, applied all or nothing, and idempotent by version", () =>
    Effect.gen(function* () {
      const put = (records: ReadonlyArray<unknown>, caller: Caller = admin, v = venue) =>
        call("PUT", `${base}/customer`, { caller, body: { venueId: v, records } })
      const first = yield* put([customer(1, 1), customer(2, 1), customer(3, 1)])
      assert.strictEqual(first.status, 200, first.text)
      assert.deepStrictEqual(first.body, { created: 3, updated: 0, unchanged: 0 })

      // One bad record refuses the batch: the valid ones are not applied either.
      const before = yield* rows
      const bad = yield* put([customer(1, 2, "changed@example.test"), customer(4, 1, "not-an-email")])
      assert.strictEqual(bad.status, 422, bad.text)
      assert.strictEqual(bad.body.field, "records[1].data.email")
      assert.deepStrictEqual(
        bad.body.records.map((p: any) => p.index),
        [1]
      )
      assert.deepStrictEqual(yield* rows, before)

      // An older or equal version changes nothing; a newer one does; updatedAt works as a version.
      const again = yield* put([customer(1, 1, "stale@example.test"), customer(2, 2, "newer@example.test")])
      assert.deepStrictEqual(again.body, { created: 0, updated: 1, unchanged: 1 })
      const timed = yield* put([{ id: "cust-5", updatedAt: "2026-12-01T10:00:00Z", data: { email: "t@example.test" } }])
      assert.deepStrictEqual(timed.body, { created: 1, updated: 0, unchanged: 0 })
      const after = (yield* rows) as ReadonlyArray<any>
      assert.deepStrictEqual(
        after.map((r) => [r.id, r.email]),
        [
          ["cust-1", "fan1@example.test"],
          ["cust-2", "newer@example.test"],
          ["cust-3", "fan3@example.test"],
          ["cust-5", "t@example.test"]
        ]
      )

      const removed = yield* call("DELETE", `${base}/customer/cust-3?venueId=${venue}`, { caller: admin })
      assert.strictEqual(removed.status, 200, removed.text)
      const gone = ((yield* rows) as ReadonlyArray<any>).find((r) => r.id === "cust-3")
      assert.isTrue(gone.deleted)
      const missing = yield* call("DELETE", `${base}/customer/nobody?venueId=${venue}`, { caller: admin })
      assert.strictEqual(missing.status, 404, missing.text)
      assert.strictEqual(missing.body.field, "id")
    })
  )

  it.effect("bad input names the field; roles and tenants are kept apart", () =>
    Effect.gen(function* () {
      const before = yield* rows
      const cases: Array<[Caller, string, unknown, number, string]> = [
        [admin, "/customer", { venueId: venue, records: [] }, 422, "records"],
        [
          admin,
          "/customer",
          { venueId: venue, records: Array.from({ length: 1001 }, (_, i) => customer(i, 1)) },
          422,
          "records"
        ],
        [admin, "/tickets", { venueId: venue, records: [customer(1, 1)] }, 400, "entityType"],
        [admin, "/customer", { venueId: venue, records: [{ id: "x", data: {} }] }, 422, "records[0].version"],
        [admin, "/customer", { venueId: venue, records: [customer(7, 1), customer(7, 2)] }, 422, "records[1].id"],
        [
          admin,
          "/customer",
          { venueId: venue, records: [{ ...customer(8, 1), data: { id: "other" } }] },
          422,
          "records[0].data.id"
        ],
        [admin, "/customer", { venueId: venue, records: [{ id: "x", version: -1, data: {} }] }, 400, "version"],
        [viewer, "/customer", { venueId: venue, records: [customer(9, 1)] }, 403, ""],
        [venueAdmin, "/customer", { venueId: venue, records: [customer(9, 1)] }, 403, ""]
      ]
      for (const [caller, path, body, status, field] of cases) {
        const reply = yield* call("PUT", `${base}${path}`, { caller, body })
        assert.strictEqual(reply.status, status, `${path}: ${reply.text.slice(0, 300)}`)
        if (field !== "") assert.include(reply.text, field)
      }
      assert.deepStrictEqual(yield* rows, before)
      // Another tenant's records are its own: the same ids, nothing shared.
      const theirs = yield* call("PUT", `${base}/customer`, {
        caller: outsider,
        body: { venueId: venue, records: [customer(1, 9, "theirs@example.test")] }
      })
      assert.deepStrictEqual(theirs.body, { created: 1, updated: 0, unchanged: 0 })
      assert.deepStrictEqual(yield* rows, before)
      const notTheirs = yield* call("DELETE", `${base}/customer/cust-2?venueId=${venue}`, { caller: outsider })
      assert.strictEqual(notTheirs.status, 404)
    })
  )
})
