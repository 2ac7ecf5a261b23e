import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  MemorySyncRequests,
  MemorySyncRequestsControl,
  type PendingSync
} from "../../adapters/memory/MemorySyncRequests.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { PostgresSyncRequests } from "../../adapters/postgres/PostgresSyncRequests.ts"
import type { Connection } from "../../domain/Connection.ts"
import { type TenantId, VenueId } from "../../domain/Ids.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { type SyncRequest, SyncRequests } from "../../ports/SyncRequests.ts"
import { connection, tenantA, tenantB } from "../support/Fixtures.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/** Sets up the connections requests belong to and reads back what is pending. */
class Harness extends Context.Service<
  Harness,
  {
    readonly connection: (connection: Connection) => Effect.Effect<void>
    readonly pending: (tenantId: TenantId) => Effect.Effect<ReadonlyArray<PendingSync>>
  }
>()("integration-service/test/SyncRequestsHarness") {}

const memory = Layer.effect(
  Harness,
  Effect.map(MemorySyncRequestsControl, (control) =>
    Harness.of({ connection: () => Effect.void, pending: control.pending })
  )
).pipe(Layer.provideMerge(MemorySyncRequests.layer))

const postgres = Layer.effect(
  Harness,
  Effect.gen(function* () {
    const connections = yield* ConnectionStore
    const owner = yield* OwnerSql
    return Harness.of({
      connection: (c) => connections.saveConnected(c, []).pipe(Effect.orDie),
      pending: (tenantId) =>
        owner<PendingSync>`SELECT tenant_id, connection_id, entity_type, source, last_event_id, events
          FROM sync_requests WHERE tenant_id = ${tenantId} AND status = 'pending'
          ORDER BY connection_id, entity_type COLLATE "C"`.pipe(Effect.orDie)
    })
  })
).pipe(
  Layer.provideMerge(PostgresSyncRequests.layer),
  Layer.provide(Layer.mergeAll(PostgresConnectionStore.layer, OwnerSql.layer)),
  Layer.provide(TestDatabase)
)

const quickbooks = (tenantId: TenantId) =>
  Effect.gen(function* () {
    const c = connection(tenantId, VenueId.make(crypto.randomUUID()), "quickbooks")
    yield* (yield* Harness).connection(c)
    return c
  })

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

const contract = (name: string, stack: Layer.Layer<SyncRequests | Harness>) =>
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
