import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { SqlClient } from "effect/sql"
import { settled, syncAppWith } from "../support/SyncTestApp.ts"
import { type Caller, call, TestWorld } from "../support/TestApp.ts"
import { OwnerSql } from "../support/TestDatabase.ts"

const tenantA = "ad000000-0000-4000-8000-0000000000a1"
const tenantB = "ad000000-0000-4000-8000-0000000000b2"
const venueA = "ad000000-1111-4000-8000-0000000000a1"
const venueB = "ad000000-1111-4000-8000-0000000000b2"
const adminA: Caller = { sub: "alice", tenantId: tenantA, venueIds: [], role: "admin" }
const adminB: Caller = { sub: "bob", tenantId: tenantB, venueIds: [], role: "admin" }
const operator: Caller = {
  sub: "sre-1",
  tenantId: "ad000000-0000-4000-8000-0000000000ff",
  venueIds: [],
  role: "operator"
}
const base = "/api/v1/integrations"
const admin = `${base}/admin`

const connectStripe = (caller: Caller, venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_admin${venueId.replaceAll("-", "").slice(-16)}`
    const { accountId } = stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
    stripe.seed(accountId, "customer", 20)
    return accountId
  })

/** As the owner: the test arranges job states no route makes on purpose (dead, stalled). */
const owner = <A>(query: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(OwnerSql, query).pipe(Effect.orDie)

const jobsOf = (tenantId: string) =>
  owner(
    (sql) =>
      sql<{ id: string; status: string; priority: string; entityType: string; requestedBy: string }>`
        SELECT id, status, priority, entity_type, requested_by FROM sync_jobs WHERE tenant_id = ${tenantId}
        ORDER BY created_at`
  )

layer(OwnerSql.layer.pipe(Layer.provideMerge(syncAppWith())), { timeout: "180 seconds", excludeTestServices: true })(
  "admin routes",
  (it) => {
    it.effect(
      "who sees what: 401 without a token, 403 below admin, an admin its tenant, an operator every tenant",
      () =>
        Effect.gen(function* () {
          yield* connectStripe(adminA, venueA)
          yield* connectStripe(adminB, venueB)
          yield* settled("stripe", venueA, adminA)
          yield* settled("stripe", venueB, adminB)

          assert.strictEqual((yield* call("GET", `${admin}/all-venues`)).status, 401)
          for (const role of ["viewer", "venue_admin"]) {
            const caller = { tenantId: tenantA, venueIds: [venueA], role }
            for (const path of ["all-venues", "health-summary", "queue-metrics"])
              assert.strictEqual((yield* call("GET", `${admin}/${path}`, { caller })).status, 403, `${role} ${path}`)
            for (const [path, body] of [
              ["force-sync", {}],
              ["clear-queue", { dryRun: true }],
              ["process-dead-letter", { action: "requeue", dryRun: true }],
              ["recover-stale", undefined]
            ] as const)
              assert.strictEqual(
                (yield* call("POST", `${admin}/${path}`, { caller, ...(body === undefined ? {} : { body }) })).status,
                403,
                `${role} ${path}`
              )
          }

          const mine = yield* call("GET", `${admin}/all-venues`, { caller: adminA })
          assert.strictEqual(mine.status, 200, mine.text)
          assert.deepStrictEqual(
            mine.body.venues.map((v: any) => [v.tenantId, v.venueId, v.provider, v.status]),
            [[tenantA, venueA, "stripe", "connected"]]
          )
          const all = yield* call("GET", `${admin}/all-venues?provider=stripe&status=connected`, { caller: operator })
          assert.strictEqual(all.status, 200, all.text)
          assert.includeMembers(
            all.body.venues.map((v: any) => v.venueId),
            [venueA, venueB]
          )
          // Keyset pages: one at a time, each venue once.
          const seen: Array<string> = []
          let cursor: string | null = null
          do {
            const page: any = yield* call(
              "GET",
              `${admin}/all-venues?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`,
              { caller: operator }
            )
            assert.strictEqual(page.status, 200, page.text)
            seen.push(...page.body.venues.map((v: any) => v.connectionId))
            cursor = page.body.nextCursor
          } while (cursor !== null)
          assert.strictEqual(new Set(seen).size, seen.length)
          assert.strictEqual(seen.length, all.body.venues.length)
          assert.strictEqual(
            (yield* call("GET", `${admin}/all-venues?cursor=nonsense`, { caller: adminA })).status,
            422
          )

          const summaryA = yield* call("GET", `${admin}/health-summary`, { caller: adminA })
          assert.strictEqual(summaryA.status, 200, summaryA.text)
          assert.deepStrictEqual(
            summaryA.body.summary.map((r: any) => [r.provider, r.status, r.connections]),
            [["stripe", "connected", 1]]
          )
          const summaryAll = yield* call("GET", `${admin}/health-summary`, { caller: operator })
          const stripeConnected = summaryAll.body.summary
            .filter((r: any) => r.provider === "stripe" && r.status === "connected")
            .reduce((n: number, r: any) => n + r.connections, 0)
          assert.isAtLeast(stripeConnected, 2)
        })
    )

    it.effect(
      "costs: by tenant, venue, provider or day; an admin its tenant, an operator every tenant; 400s name the field",
      () =>
        Effect.gen(function* () {
          // Past days the ledger's own flushes (today) do not touch: A's Stripe connection two days, B's one.
          const ids = yield* owner(
            (sql) => sql<{ id: string; tenantId: string }>`SELECT id, tenant_id FROM connections
            WHERE venue_id IN (${venueA}, ${venueB})`
          )
          const of = (tenantId: string) => ids.find((c) => c.tenantId === tenantId)!.id
          yield* owner(
            (sql) => sql`INSERT INTO integration_costs (tenant_id, connection_id, day, api_calls, cost_micros,
            quota_calls, worker_millis) VALUES
            (${tenantA}, ${of(tenantA)}, '2026-01-10', 100, 350, 100, 60000),
            (${tenantA}, ${of(tenantA)}, '2026-01-11', 40, 140, 40, 30000),
            (${tenantB}, ${of(tenantB)}, '2026-01-11', 7, 6, 0, 1000)`
          )
          const costs = (query: string, caller?: Caller) =>
            call("GET", `${admin}/costs?${query}`, caller === undefined ? {} : { caller })
          const range = "from=2026-01-10&to=2026-01-11"

          assert.strictEqual((yield* costs(range)).status, 401)
          for (const role of ["viewer", "venue_admin"])
            assert.strictEqual((yield* costs(range, { tenantId: tenantA, venueIds: [venueA], role })).status, 403, role)

          const byDay = yield* costs(`${range}&groupBy=day`, adminA)
          assert.strictEqual(byDay.status, 200, byDay.text)
          assert.deepStrictEqual(byDay.body, {
            from: "2026-01-10",
            to: "2026-01-11",
            groupBy: "day",
            rows: [
              {
                key: "2026-01-10",
                tenantId: null,
                apiCalls: 100,
                quotaCalls: 100,
                workerMillis: 60000,
                costMicros: 350
              },
              { key: "2026-01-11", tenantId: null, apiCalls: 40, quotaCalls: 40, workerMillis: 30000, costMicros: 140 }
            ],
            totals: { apiCalls: 140, quotaCalls: 140, workerMillis: 90000, costMicros: 490 }
          })
          // Tenant isolation: B's admin sees B's day only, whatever it asks for.
          const theirs = yield* costs(`${range}&groupBy=tenant`, adminB)
          assert.deepStrictEqual(
            theirs.body.rows.map((r: any) => [r.key, r.tenantId, r.apiCalls]),
            [[tenantB, tenantB, 7]]
          )
          const byVenue = yield* costs(`${range}&groupBy=venue`, adminA)
          assert.deepStrictEqual(
            byVenue.body.rows.map((r: any) => [r.key, r.tenantId, r.costMicros]),
            [[venueA, tenantA, 490]]
          )
          const everyTenant = yield* costs(`${range}&groupBy=tenant`, operator)
          assert.strictEqual(everyTenant.status, 200, everyTenant.text)
          assert.deepStrictEqual(
            everyTenant.body.rows.map((r: any) => [r.key, r.apiCalls, r.costMicros]),
            [
              [tenantA, 140, 490],
              [tenantB, 7, 6]
            ]
          )
          const byProvider = yield* costs(`${range}&groupBy=provider`, operator)
          assert.deepStrictEqual(
            byProvider.body.rows.map((r: any) => [r.key, r.apiCalls]),
            [["stripe", 147]]
          )
          // One day only; and without a range the last 30 days, which leave January out.
          assert.strictEqual((yield* costs("from=2026-01-11&to=2026-01-11", operator)).body.totals.apiCalls, 47)
          const recent = yield* costs("groupBy=day", adminA)
          assert.strictEqual(recent.status, 200, recent.text)
          assert.isFalse(recent.body.rows.some((r: any) => r.key.startsWith("2026-01-1")))

          for (const [query, field] of [
            ["from=2026-01-12&to=2026-01-11", "from"],
            ["from=2026-02-30&to=2026-03-01", "from"],
            ["from=2024-01-01&to=2026-01-11", "to"],
            ["groupBy=connection", "groupBy"],
            ["from=yesterday", "from"]
          ] as const) {
            const refused = yield* costs(query, adminA)
            assert.strictEqual(refused.status, 400, `${query}: ${refused.text}`)
            assert.strictEqual(refused.body.field, field, query)
          }
        })
    )

    it.effect("force-sync: critical jobs now, for the admin's tenant or, for an operator, every tenant", () =>
      Effect.gen(function* () {
        const forced = yield* call("POST", `${admin}/force-sync`, {
          caller: adminA,
          body: { provider: "stripe", entityTypes: ["customer"] }
        })
        assert.strictEqual(forced.status, 200, forced.text)
        assert.deepStrictEqual(
          forced.body.jobs.map((j: any) => [j.tenantId, j.venueId, j.entityType]),
          [[tenantA, venueA, "customer"]]
        )
        const everywhere = yield* call("POST", `${admin}/force-sync`, {
          caller: operator,
          body: { provider: "stripe", entityTypes: ["customer"] }
        })
        assert.strictEqual(everywhere.status, 200, everywhere.text)
        assert.includeMembers(
          everywhere.body.jobs.map((j: any) => j.tenantId),
          [tenantA, tenantB]
        )
        yield* settled("stripe", venueA, adminA)
        yield* settled("stripe", venueB, adminB)
        const jobsB = yield* jobsOf(tenantB)
        const byOperator = jobsB.filter((j) => j.requestedBy === "operator:sre-1")
        assert.isAtLeast(byOperator.length, 1)
        assert.isTrue(byOperator.every((j) => j.priority === "critical" && j.status === "completed"))

        const metrics = yield* call("GET", `${admin}/queue-metrics`, { caller: adminA })
        assert.strictEqual(metrics.status, 200, metrics.text)
        assert.strictEqual(metrics.body.throughput.windowSeconds, 300)
        assert.isAtLeast(metrics.body.throughput.jobsFinished, 1)
        assert.isAtLeast(metrics.body.throughput.recordsFetched, 20)
        assert.deepStrictEqual(metrics.body.deadLetters, { sync: 0, webhook: 0, total: 0 })

        const actions = yield* owner(
          (sql) => sql<{ actor: string; actorRole: string; scopeTenant: string | null }>`
          SELECT actor, actor_role, scope_tenant FROM operator_actions WHERE action = 'force-sync' ORDER BY id`
        )
        assert.deepStrictEqual(
          actions.map((a) => [a.actor, a.actorRole, a.scopeTenant]),
          [
            ["alice", "admin", tenantA],
            ["sre-1", "operator", null]
          ]
        )
      })
    )

    it.effect("clear-queue and process-dead-letter by filter, dry runs first; each admin only its own", () =>
      Effect.gen(function* () {
        const deadA = (yield* jobsOf(tenantA)).filter((j) => j.status === "completed").slice(0, 2)
        const deadB = (yield* jobsOf(tenantB)).filter((j) => j.status === "completed").slice(0, 1)
        const ids = [...deadA, ...deadB].map((j) => j.id)
        yield* owner(
          (sql) => sql`UPDATE sync_jobs SET status = 'dead', last_error = 'stripe answered 500 for req_' || id
          WHERE id IN ${sql.in(ids)}`
        )
        const dryA = yield* call("POST", `${admin}/clear-queue`, {
          caller: adminA,
          body: { status: "dead", dryRun: true }
        })
        assert.deepStrictEqual(dryA.body, { matched: 2, cleared: 0, dryRun: true }, dryA.text)
        const dryB = yield* call("POST", `${admin}/process-dead-letter`, {
          caller: adminB,
          body: { kind: "sync", action: "requeue", dryRun: true }
        })
        assert.deepStrictEqual(dryB.body, { sync: 1, webhook: 0, dryRun: true }, dryB.text)
        const metrics = yield* call("GET", `${admin}/queue-metrics`, { caller: operator })
        assert.isAtLeast(metrics.body.deadLetters.sync, 3)
        assert.isTrue(metrics.body.queues.some((q: any) => q.status === "dead" && q.depth >= 3))

        // A's one dead job requeued by id: it runs again from its checkpoint and completes.
        const requeued = yield* call("POST", `${admin}/process-dead-letter`, {
          caller: adminA,
          body: { action: "requeue", ids: [deadA[0]!.id] }
        })
        assert.deepStrictEqual(requeued.body, { sync: 1, webhook: 0, dryRun: false }, requeued.text)
        // B's dead jobs are not A's to touch: naming them changes nothing.
        const foreign = yield* call("POST", `${admin}/process-dead-letter`, {
          caller: adminA,
          body: { action: "discard", ids: [deadB[0]!.id] }
        })
        assert.deepStrictEqual(foreign.body, { sync: 0, webhook: 0, dryRun: false }, foreign.text)
        yield* settled("stripe", venueA, adminA)
        const after = new Map((yield* jobsOf(tenantA)).map((j) => [j.id, j.status]))
        assert.strictEqual(after.get(deadA[0]!.id), "completed")

        const discarded = yield* call("POST", `${admin}/process-dead-letter`, {
          caller: adminA,
          body: { action: "discard", kind: "sync" }
        })
        assert.deepStrictEqual(discarded.body, { sync: 1, webhook: 0, dryRun: false }, discarded.text)
        const cleared = yield* call("POST", `${admin}/clear-queue`, { caller: operator, body: { status: "dead" } })
        assert.deepStrictEqual(cleared.body, { matched: 1, cleared: 1, dryRun: false }, cleared.text)
        const statuses = [...(yield* jobsOf(tenantA)), ...(yield* jobsOf(tenantB))].filter((j) => ids.includes(j.id))
        assert.deepStrictEqual(statuses.map((j) => j.status).sort(), ["cancelled", "cancelled", "completed"])
      })
    )

    it.effect(
      "recover-stale: a running job whose heartbeat stopped is taken over and finishes from its checkpoint",
      () =>
        Effect.gen(function* () {
          const job = (yield* jobsOf(tenantA)).find((j) => j.status === "completed")!
          yield* owner(
            (sql) => sql`UPDATE sync_jobs SET status = 'running', claim = gen_random_uuid(), finished_at = NULL,
          heartbeat_at = now() - interval '1 hour' WHERE id = ${job.id}`
          )
          const denied = yield* call("POST", `${admin}/recover-stale`, { caller: adminB })
          assert.deepStrictEqual(denied.body, { recovered: 0, jobIds: [] }, denied.text)
          const recovered = yield* call("POST", `${admin}/recover-stale`, { caller: adminA })
          assert.strictEqual(recovered.status, 200, recovered.text)
          assert.deepStrictEqual(recovered.body.jobIds, [job.id])
          yield* settled("stripe", venueA, adminA)
          assert.strictEqual((yield* jobsOf(tenantA)).find((j) => j.id === job.id)!.status, "completed")
        })
    )
  }
)
