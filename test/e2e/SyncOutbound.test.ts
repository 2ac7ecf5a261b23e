import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { latestOutbound, putRecords, removeRecord, startFullOutbound } from "../support/OutboundTestApp.ts"
import { connectStripe } from "../support/SyncConnect.ts"
import { base, jobHistory, jobsSettled, readFeed, startSync, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"

const tenant = "0b000000-0000-4000-8000-0000000000b1"
const venue = (n: number) => `0b000000-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }

/** Platform ids are the tenant's: each test has its own `prefix`. */
const buyer = (i: number, version: number, givenName = `Given${i}`, prefix = "buyer") => ({
  id: `${prefix}-${i}`,
  version,
  data: { email: `buyer${i}@example.test`, givenName, familyName: `Family${i}` }
})

/** Stripe's customers by the platform id the push set in their metadata. */
const customersByPlatformId = (customers: ReadonlyArray<Record<string, any>>) =>
  new Map(customers.map((c) => [String(c.metadata?.platform_id), c]))

const setPolicy = (venueId: string, entityType: string, policy: string) =>
  Effect.gen(function* () {
    const reply = yield* call("PUT", `${base}/stripe/sync/policies`, {
      caller: admin,
      body: { venueId, entityType, policy }
    })
    assert.strictEqual(reply.status, 200, reply.text)
    return reply.body.policies as ReadonlyArray<any>
  })

layer(syncAppWith({ SYNC_OUTBOUND_DEBOUNCE: "4 seconds" }), { timeout: "300 seconds", excludeTestServices: true })(
  "outbound sync to Stripe over HTTP",
  (it) => {
    it.effect(
      "1,000 buyers pushed, 10 % changed and 1 % deleted: Stripe equals the mapped platform; again sends nothing",
      () =>
        Effect.gen(function* () {
          const { stripe } = yield* TestWorld
          const venueId = venue(1)
          const { accountId } = yield* connectStripe(admin, venueId, "out")
          yield* putRecords(
            admin,
            venueId,
            "customer",
            Array.from({ length: 1000 }, (_, i) => buyer(i, 1))
          )
          yield* jobsSettled("stripe", venueId, admin)
          const first = yield* latestOutbound("stripe", venueId, admin, "customer")
          assert.strictEqual(first.status, "completed", JSON.stringify(first))
          assert.deepStrictEqual([first.counts.created, first.counts.failed], [1000, 0])
          assert.strictEqual(stripe.creations(accountId, "customer"), 1000)
          // The status route shows the outbound side of the entities Stripe takes outbound.
          const status = yield* call("GET", `${base}/stripe/sync/status?venueId=${venueId}`, { caller: admin })
          assert.strictEqual(status.status, 200, status.text)
          const entity = (name: string) => status.body.entities.find((e: any) => e.entityType === name)
          assert.deepStrictEqual(entity("customer").outbound, { state: "completed", currentJob: null, lastError: null })
          assert.strictEqual(entity("customer").state, "never_synced", "no inbound job ran")
          assert.isNull(entity("payment").outbound, "payments are never pushed")

          const changed = Array.from({ length: 100 }, (_, k) => buyer(k * 10, 2, `Renamed${k * 10}`))
          yield* putRecords(admin, venueId, "customer", changed)
          for (let k = 0; k < 10; k++) yield* removeRecord(admin, venueId, "customer", `buyer-${k * 100 + 5}`)
          yield* jobsSettled("stripe", venueId, admin)

          const atStripe = customersByPlatformId(stripe.records(accountId, "customer"))
          assert.strictEqual(atStripe.size, 990)
          for (let i = 0; i < 1000; i++) {
            const customer = atStripe.get(`buyer-${i}`)
            if (i % 100 === 5) {
              assert.isUndefined(customer, `buyer-${i} was deleted`)
              continue
            }
            const given = i % 10 === 0 ? `Renamed${i}` : `Given${i}`
            assert.deepStrictEqual([customer?.email, customer?.name], [`buyer${i}@example.test`, `${given} Family${i}`])
          }
          assert.strictEqual(stripe.creations(accountId, "customer"), 1000, "no buyer was created twice")

          // A full outbound pass over unchanged records sends nothing.
          const before = stripe.dataRequests(accountId).length
          yield* startFullOutbound("stripe", admin, venueId, "customer")
          yield* jobsSettled("stripe", venueId, admin)
          assert.strictEqual(stripe.dataRequests(accountId).length, before)
          const full = yield* latestOutbound("stripe", venueId, admin, "customer")
          assert.deepStrictEqual(
            [full.status, full.counts.fetched, full.counts.unchanged, full.counts.created, full.counts.updated],
            ["completed", 1000, 1000, 0, 0],
            JSON.stringify(full.counts)
          )
        })
    )

    it.effect("a price change is a new price and the old one archived; a deleted event is archived", () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const venueId = venue(2)
        const { accountId } = yield* connectStripe(admin, venueId, "out")
        const show = (version: number, priceMinor: number) => ({
          id: "show-1",
          version,
          data: { name: "Hamlet", priceMinor, currency: "GBP", active: true }
        })
        yield* putRecords(admin, venueId, "product", [show(1, 2500)])
        yield* jobsSettled("stripe", venueId, admin)
        const [created] = stripe.products(accountId) as ReadonlyArray<any>
        assert.deepStrictEqual([created.name, created.default_price.unit_amount], ["Hamlet", 2500])

        yield* putRecords(admin, venueId, "product", [show(2, 3000)])
        yield* jobsSettled("stripe", venueId, admin)
        const [repriced] = stripe.products(accountId) as ReadonlyArray<any>
        assert.strictEqual(repriced.id, created.id, "the same product, not a new one")
        assert.strictEqual(repriced.default_price.unit_amount, 3000)
        const prices = stripe.prices(accountId, created.id) as ReadonlyArray<any>
        assert.deepStrictEqual(
          prices.map((p) => [p.unit_amount, p.active]),
          [
            [2500, false],
            [3000, true]
          ]
        )

        yield* removeRecord(admin, venueId, "product", "show-1")
        yield* jobsSettled("stripe", venueId, admin)
        const archived = stripe.records(accountId, "product").find((p) => p.id === created.id)
        assert.strictEqual(archived?.active, false)
        assert.strictEqual(stripe.creations(accountId, "product"), 1)
        const job = yield* latestOutbound("stripe", venueId, admin, "product")
        assert.strictEqual(job.counts.deleted, 1, "the archive is counted")
      })
    )

    it.effect("our own writes read back are echoes: not changes; a conflicting edit resolves by each policy", () =>
      Effect.gen(function* () {
        const { stripe } = yield* TestWorld
        const venueId = venue(3)
        const { accountId } = yield* connectStripe(admin, venueId, "out")
        yield* putRecords(admin, venueId, "customer", [buyer(1, 1, `Given1`, "echo"), buyer(2, 1, `Given2`, "echo")])
        yield* jobsSettled("stripe", venueId, admin)
        const pushed = yield* readFeed("stripe", venueId, admin, null, "customer")
        assert.deepStrictEqual(pushed.changes.map((c: any) => c.platformId).sort(), ["echo-1", "echo-2"])

        // Reading Stripe back finds only what we wrote: nothing changed, nothing new in the feed.
        const read = yield* startSync("stripe", admin, { venueId, entityTypes: ["customer"], mode: "full" })
        assert.strictEqual(read.status, 202, read.text)
        yield* jobsSettled("stripe", venueId, admin)
        const inbound = (yield* jobHistory("stripe", venueId, admin)).find((j) => j.direction === "inbound")!
        assert.deepStrictEqual(
          [inbound.counts.created, inbound.counts.updated, inbound.counts.unchanged],
          [0, 0, 2],
          JSON.stringify(inbound.counts)
        )
        assert.deepStrictEqual((yield* readFeed("stripe", venueId, admin, pushed.cursor)).changes, [])

        const stripeId = customersByPlatformId(stripe.records(accountId, "customer")).get("echo-1")!.id as string
        const boxOffice = (name: string) =>
          Effect.gen(function* () {
            stripe.upsertRecord(accountId, "customer", { id: stripeId, name })
            // A request of its own each time: without a key, the same request within a minute is the same job.
            const sync = yield* startSync(
              "stripe",
              admin,
              { venueId, entityTypes: ["customer"], priority: "critical" },
              { "idempotency-key": `box-office-${name}` }
            )
            assert.strictEqual(sync.status, 202, sync.text)
          })
        const nameAtStripe = () => customersByPlatformId(stripe.records(accountId, "customer")).get("echo-1")?.name

        const policies = yield* setPolicy(venueId, "customer", "provider_wins")
        assert.deepStrictEqual(
          policies.find((p) => p.entityType === "customer"),
          { entityType: "customer", policy: "provider_wins", isDefault: false }
        )
        yield* boxOffice("Box Office One")
        yield* jobsSettled("stripe", venueId, admin)
        yield* putRecords(admin, venueId, "customer", [buyer(1, 2, "Platform", "echo")])
        yield* jobsSettled("stripe", venueId, admin)
        assert.strictEqual(nameAtStripe(), "Box Office One", "provider_wins keeps the provider's edit")
        const kept = yield* latestOutbound("stripe", venueId, admin, "customer")
        assert.isTrue(
          kept.logs.some((l: any) => /changed on both sides; provider_wins keeps stripe's version/.test(l.message)),
          JSON.stringify(kept.logs)
        )

        yield* setPolicy(venueId, "customer", "platform_wins")
        yield* putRecords(admin, venueId, "customer", [buyer(1, 3, "PlatformAgain", "echo")])
        yield* jobsSettled("stripe", venueId, admin)
        assert.strictEqual(nameAtStripe(), "PlatformAgain Family1", "platform_wins pushes over it")

        // latest_wins: the platform edits first; the box office edits later, seen before the push runs.
        yield* setPolicy(venueId, "customer", "latest_wins")
        yield* putRecords(admin, venueId, "customer", [buyer(1, 4, "Earlier", "echo")])
        yield* boxOffice("Box Office Later")
        yield* jobsSettled("stripe", venueId, admin)
        assert.strictEqual(nameAtStripe(), "Box Office Later", "the later edit wins")
        // …and a platform edit after the box office's is pushed.
        yield* putRecords(admin, venueId, "customer", [buyer(1, 5, "Latest", "echo")])
        yield* jobsSettled("stripe", venueId, admin)
        assert.strictEqual(nameAtStripe(), "Latest Family1")
        assert.strictEqual(stripe.creations(accountId, "customer"), 2)
      })
    )

    it.effect("unsupported pairs are refused with 422 naming the field", () =>
      Effect.gen(function* () {
        const venueId = venue(4)
        yield* connectStripe(admin, venueId, "out")
        const payments = yield* startSync("stripe", admin, {
          venueId,
          entityTypes: ["payment"],
          direction: "outbound"
        })
        assert.strictEqual(payments.status, 422, payments.text)
        assert.match(payments.text, /entityTypes/)
        const fields = yield* call(
          "GET",
          `${base}/stripe/fields?venueId=${venueId}&entityType=order&direction=outbound`,
          { caller: admin }
        )
        assert.strictEqual(fields.status, 422, fields.text)
        assert.match(fields.text, /direction/)
        const policy = yield* call("PUT", `${base}/stripe/sync/policies`, {
          caller: admin,
          body: { venueId, entityType: "payment", policy: "platform_wins" }
        })
        assert.strictEqual(policy.status, 422, policy.text)
        const both = yield* startSync("stripe", admin, { venueId, direction: "bidirectional" })
        assert.strictEqual(both.status, 202, both.text)
        assert.deepStrictEqual(both.body.jobs.map((j: any) => `${j.entityType}:${j.direction}`).sort(), [
          "customer:inbound",
          "customer:outbound",
          "product:inbound",
          "product:outbound"
        ])
      })
    )
  }
)
