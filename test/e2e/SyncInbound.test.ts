import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { liveOf, readFeed, settled, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"

const tenant = "eeeeeeee-0000-4000-8000-0000000000e1"
const venue = (n: number) => `eeeeeeee-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const connectStripe = (venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_sync${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller: admin, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    return { accountId, apiKey }
  })

const ids = (records: ReadonlyArray<Record<string, unknown>>) => records.map((r) => String(r.id)).sort()

layer(syncAppWith(), { timeout: "180 seconds", excludeTestServices: true })("inbound sync over HTTP", (it) => {
  it.effect("stripe: full, then incremental after creates, updates and deletions, then nothing", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const venueId = venue(1)
      const { accountId } = yield* connectStripe(venueId)
      stripe.seed(accountId, "customer", 250)
      stripe.seed(accountId, "product", 120)
      stripe.seed(accountId, "payment", 30)
      const started = yield* startSync("stripe", admin, { venueId, mode: "full" })
      assert.strictEqual(started.status, 202, started.text)
      assert.deepStrictEqual(started.body.jobs.map((j: any) => j.entityType).sort(), [
        "customer",
        "invoice",
        "order",
        "payment",
        "product"
      ])
      const entities = yield* settled("stripe", venueId, admin)
      assert.isTrue(
        entities.every((e) => e.state === "completed"),
        JSON.stringify(entities)
      )
      const first = yield* readFeed("stripe", venueId, admin, null)
      for (const entity of ["customer", "product", "payment"] as const) {
        assert.deepStrictEqual([...liveOf(first.changes, entity).keys()].sort(), ids(stripe.records(accountId, entity)))
      }
      const customer = liveOf(first.changes, "customer").values().next().value
      assert.isString(customer.data.id)
      assert.strictEqual(customer.mappingVersion, 0)

      // Changes at Stripe: 3 new customers, 2 changed, 1 deleted.
      const existing = stripe.records(accountId, "customer")
      for (let i = 0; i < 3; i++) stripe.upsertRecord(accountId, "customer", { email: `new${i}@example.test` })
      stripe.upsertRecord(accountId, "customer", { id: existing[0]!.id as string, name: "Changed One" })
      stripe.upsertRecord(accountId, "customer", { id: existing[1]!.id as string, name: "Changed Two" })
      stripe.deleteRecord(accountId, "customer", existing[2]!.id as string)
      const again = yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"] })
      assert.strictEqual(again.status, 202, again.text)
      yield* settled("stripe", venueId, admin)
      const second = yield* readFeed("stripe", venueId, admin, first.cursor)
      const byChange = (change: string) => second.changes.filter((c: any) => c.change === change).length
      assert.deepStrictEqual([byChange("added"), byChange("updated"), byChange("deleted")], [3, 2, 1])
      assert.deepStrictEqual(
        [...liveOf([...first.changes, ...second.changes], "customer").keys()].sort(),
        ids(stripe.records(accountId, "customer"))
      )

      // Nothing changed: nothing written, nothing in the feed.
      const third = yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"], priority: "high" })
      assert.strictEqual(third.status, 202, third.text)
      yield* settled("stripe", venueId, admin)
      const after = yield* readFeed("stripe", venueId, admin, second.cursor)
      assert.deepStrictEqual(after.changes, [])
      const history = yield* call("GET", `${base}/stripe/sync/history?venueId=${venueId}&entityType=customer`, {
        caller: admin
      })
      assert.strictEqual(history.status, 200, history.text)
      const [latest] = history.body.jobs
      assert.strictEqual(latest.status, "completed")
      assert.deepStrictEqual(
        [latest.counts.created, latest.counts.updated, latest.counts.deleted],
        [0, 0, 0],
        JSON.stringify(latest)
      )
    })
  )

  it.effect("a mapping change remaps the stored records from their raw payloads, with no provider call", () =>
    Effect.gen(function* () {
      const { stripe } = yield* TestWorld
      const venueId = venue(2)
      const { accountId } = yield* connectStripe(venueId)
      stripe.seed(accountId, "customer", 40)
      stripe.upsertRecord(accountId, "customer", { name: "Zora Quixote", metadata: { seat_preference: "aisle" } })
      yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"], mode: "full" })
      yield* settled("stripe", venueId, admin)
      const first = yield* readFeed("stripe", venueId, admin, null)
      assert.strictEqual(first.changes.length, 41)

      // The metadata keys of synced records are Stripe's custom fields; a dry run without samples uses synced records.
      const fields = yield* call("GET", `${base}/stripe/fields?venueId=${venueId}&entityType=customer`, {
        caller: admin
      })
      assert.strictEqual(fields.status, 200, fields.text)
      assert.deepStrictEqual(
        fields.body.custom.map((f: any) => f.path),
        ["metadata.seat_preference"]
      )
      const dryRun = yield* call("POST", `${base}/stripe/mappings/test`, {
        caller: admin,
        body: { venueId, entityType: "customer", direction: "inbound" }
      })
      assert.strictEqual(dryRun.status, 200, dryRun.text)
      assert.isAbove(dryRun.body.results.length, 0)
      assert.isString(dryRun.body.results[0].output.id)

      const mapping = yield* call(
        "GET",
        `${base}/stripe/mappings?venueId=${venueId}&entityType=customer&direction=inbound`,
        {
          caller: admin
        }
      )
      const calls = stripe.dataRequests(accountId).length
      const saved = yield* call("PUT", `${base}/stripe/mappings`, {
        caller: admin,
        body: {
          venueId,
          entityType: "customer",
          direction: "inbound",
          rules: [...mapping.body.rules, { target: "attributes.seat", source: "metadata.seat_preference" }]
        }
      })
      assert.strictEqual(saved.status, 200, saved.text)
      yield* settled("stripe", venueId, admin)
      assert.strictEqual(stripe.dataRequests(accountId).length, calls, "a remap asks the provider nothing")
      const remapped = yield* readFeed("stripe", venueId, admin, first.cursor)
      assert.strictEqual(remapped.changes.length, 41)
      assert.isTrue(remapped.changes.every((c: any) => c.mappingVersion === 1 && c.change === "updated"))
      const ada = remapped.changes.find((c: any) => c.data.familyName === "Quixote")
      assert.deepStrictEqual(
        [ada?.data.givenName, ada?.data.attributes],
        ["Zora", { seat: "aisle" }],
        JSON.stringify(ada)
      )
      const history = yield* call("GET", `${base}/stripe/sync/history?venueId=${venueId}&entityType=customer&limit=1`, {
        caller: admin
      })
      assert.strictEqual(history.body.jobs[0].mode, "remap")
      assert.strictEqual(history.body.jobs[0].counts.updated, 41)

      const connection = yield* call("GET", `${base}/stripe?venueId=${venueId}`, { caller: admin })
      assert.strictEqual(connection.status, 200, connection.text)
      assert.strictEqual(connection.body.mappingStatus, "ok")
    })
  )
})
