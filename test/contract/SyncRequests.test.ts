import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  MemorySyncRequests,
  MemorySyncRequestsControl,
  type PendingSync
} from "../../adapters/memory/MemorySyncRequests.ts"
import { PostgresSyncRequests } from "../../adapters/postgres/PostgresSyncRequests.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { type SyncRequest, SyncRequests } from "../../ports/SyncRequests.ts"
import {
  type ConnectionSetup,
  memoryConnectionSetup,
  postgresConnectionSetup,
  setUpConnection
} from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/** Reads back what is pending, outside the port under test. */
class Harness extends Context.Service<
  Harness,
  {
    readonly pending: (tenantId: TenantId) => Effect.Effect<ReadonlyArray<PendingSync>>
  }
>()("integration-service/test/SyncRequestsHarness") {}

const memory = Layer.effect(
  Harness,
  Effect.map(MemorySyncRequestsControl, (control) => Harness.of({ pending: control.pending }))
).pipe(Layer.provideMerge(Layer.mergeAll(MemorySyncRequests.layer, memoryConnectionSetup)))

const postgres = Layer.effect(
  Harness,
  Effect.gen(function* () {
    const owner = yield* OwnerSql
    return Harness.of({
      pending: (tenantId) =>
        owner<PendingSync>`SELECT tenant_id, connection_id, entity_type, source, last_event_id, events
          FROM sync_requests WHERE tenant_id = ${tenantId} AND status = 'pending'
          ORDER BY connection_id, entity_type COLLATE "C"`.pipe(Effect.orDie)
    })
  })
).pipe(
  Layer.provideMerge(Layer.mergeAll(PostgresSyncRequests.layer, postgresConnectionSetup)),
  Layer.provide(OwnerSql.layer),
  Layer.provide(TestDatabase)
)

const quickbooks = (tenantId: TenantId) => setUpConnection(tenantId, "quickbooks")

const asked = (c: Connection, overrides: Partial<SyncRequest> = {}): SyncRequest => ({
  tenantId: c.tenantId,
  connectionId: c.id,
  entityType: "customer",
  source: "webhook:quickbooks:qbo.customer.updated.v1",
  eventId: "qbo-1",
  ...overrides
})

const pendingOf = (c: Connection) =>
  Effect.map(
    Effect.flatMap(Harness, (h) => h.pending(c.tenantId)),
    (all) => all.filter((r) => r.connectionId === c.id).map((r) => ({ ...r }))
  )

const contract = (name: string, stack: Layer.Layer<SyncRequests | Harness | ConnectionSetup>) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`SyncRequests contract: ${name}`, (it) => {
    it.effect("a request is kept pending with what asked for it", () =>
      Effect.gen(function* () {
        const syncs = yield* SyncRequests
        const c = yield* quickbooks(tenantA)
        yield* syncs.request(asked(c))
        assert.deepStrictEqual(yield* pendingOf(c), [
          {
            tenantId: tenantA,
            connectionId: c.id,
            entityType: "customer",
            source: "webhook:quickbooks:qbo.customer.updated.v1",
            lastEventId: "qbo-1",
            events: 1
          }
        ])
      })
    )

    it.effect("a burst coalesces per connection and entity type, counting events, keeping the latest", () =>
      Effect.gen(function* () {
        const syncs = yield* SyncRequests
        const c = yield* quickbooks(tenantA)
        yield* syncs.request(asked(c, { eventId: "qbo-1" }))
        yield* syncs.request(asked(c, { eventId: "qbo-2" }))
        yield* syncs.request(asked(c, { source: "manual", eventId: null }))
        yield* syncs.request(asked(c, { entityType: "product", source: "webhook:quickbooks:qbo.item.created.v1" }))
        assert.deepStrictEqual(
          (yield* pendingOf(c)).map((r) => [r.entityType, r.source, r.lastEventId, r.events]),
          [
            ["customer", "manual", null, 3],
            ["product", "webhook:quickbooks:qbo.item.created.v1", "qbo-1", 1]
          ]
        )
      })
    )

    it.effect("concurrent requests for one entity all count, in one request", () =>
      Effect.gen(function* () {
        const syncs = yield* SyncRequests
        const c = yield* quickbooks(tenantA)
        yield* Effect.all(
          Array.from({ length: 10 }, (_, i) => syncs.request(asked(c, { eventId: `qbo-${i}` }))),
          { concurrency: "unbounded" }
        )
        const [only, ...rest] = yield* pendingOf(c)
        assert.strictEqual(rest.length, 0)
        assert.strictEqual(only?.events, 10)
      })
    )

    it.effect("requests belong to their tenant", () =>
      Effect.gen(function* () {
        const syncs = yield* SyncRequests
        const harness = yield* Harness
        const theirs = yield* quickbooks(tenantB)
        yield* syncs.request(asked(theirs))
        assert.isFalse((yield* harness.pending(tenantA)).some((r) => r.connectionId === theirs.id))
        assert.strictEqual((yield* pendingOf(theirs)).length, 1)
      })
    )
  })

describe("SyncRequests contract", () => {
  contract("memory", memory)
  contract("postgres", postgres)
})
