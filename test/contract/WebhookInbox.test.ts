import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import { TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"
import { WebhookEndpoints } from "../../ports/WebhookEndpoints.ts"
import {
  type InboxEntry,
  type InboxEvent,
  type StoredCopy,
  type StoreOutcome,
  WebhookInbox
} from "../../ports/WebhookInbox.ts"
import { connection } from "../support/Fixtures.ts"
import { memoryWebhooks, postgresWebhooks, WebhookRouting, type WebhookStack } from "./WebhookRouting.ts"

const freshTenant = () => TenantId.make(crypto.randomUUID())
const unique = (prefix: string) => `${prefix}_${crypto.randomUUID()}`
const traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/** A connection of a fresh venue for the provider account, known to routing. */
const routable = (
  tenantId: TenantId,
  provider: Provider,
  accountId: string | null,
  overrides: Partial<Connection> = {}
) =>
  Effect.gen(function* () {
    const c = connection(tenantId, VenueId.make(crypto.randomUUID()), provider, { accountId, ...overrides })
    yield* (yield* WebhookRouting).connection(c)
    return c
  })

/** A fresh tenant with a Stripe connection for a fresh account. */
const stripeAccount = Effect.gen(function* () {
  const tenant = freshTenant()
  const account = unique("acct")
  const connection = yield* routable(tenant, "stripe", account)
  return { tenant, account, connection }
})

/** Registers a Stripe webhook endpoint of the connection under a fresh public id, and returns that id. */
const stripeEndpoint = (c: Connection, url: (publicId: string) => string, events: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const publicId = unique("we")
    yield* (yield* WebhookEndpoints).save({
      tenantId: c.tenantId,
      connectionId: c.id,
      provider: "stripe",
      publicId,
      url: url(publicId),
      providerEndpointId: unique("we_provider"),
      events
    })
    return publicId
  })

const payloadJson = `{"id":"evt","data":{"object":{"old_email":"a@example.com","api_version":"2024-06-20"}}}`

const entry = (overrides: Partial<InboxEntry> = {}): InboxEntry => ({
  provider: "stripe",
  eventId: unique("evt"),
  type: "customer.created",
  accountId: null,
  endpoint: null,
  occurredAt: "2026-11-01T10:00:00.000Z",
  body: new TextEncoder().encode(payloadJson),
  traceParent,
  ...overrides
})

/** The one copy of an event routed to a single connection. */
const single = (outcome: StoreOutcome) => {
  assert.lengthOf(outcome, 1, "routed to one connection")
  return outcome[0]!
}

const stored = (outcome: StoreOutcome) => {
  const copy = single(outcome)
  assert.strictEqual(copy._tag, "Stored")
  return copy as Extract<StoredCopy, { _tag: "Stored" }>
}

/** Quarantined: no connection took it. */
const unroutable = (outcome: StoreOutcome, message?: string) => assert.lengthOf(outcome, 0, message)

const store = (e: InboxEntry) => Effect.flatMap(WebhookInbox, (inbox) => inbox.store(e))

/** Every event of the tenant and provider, paged through with `limit`. */
const listAll = (
  tenantId: TenantId,
  provider: Provider,
  limit: number,
  filter: { status?: InboxEvent["status"]; type?: string } = {}
) =>
  Effect.gen(function* () {
    const inbox = yield* WebhookInbox
    const all: Array<InboxEvent> = []
    let cursor: string | undefined
    for (let page = 0; page < 100; page++) {
      const result = yield* inbox.list(tenantId, provider, { ...filter, limit, cursor })
      all.push(...result.events)
      if (result.next === null) return all
      cursor = result.next
    }
    return assert.fail("the pages never end")
  })

const eventOf = (tenantId: TenantId, provider: Provider, id: string) =>
  Effect.map(listAll(tenantId, provider, 100), (all) => {
    const found = all.find((e) => e.id === id)
    assert.isDefined(found, `event ${id} is listed`)
    return found!
  })

const contract = (name: string, stack: WebhookStack, knownDefects: ReadonlyArray<string> = []) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`WebhookInbox contract: ${name}`, (it) => {
    /** A behaviour the adapter is known to get wrong is expected to fail, and turns red once it is fixed. */
    const test = (
      title: string,
      body: () => Effect.Effect<void, unknown, WebhookInbox | WebhookEndpoints | WebhookRouting>
    ) => (knownDefects.includes(title) ? it.effect.fails : it.effect)(title, body)

    test("an event is routed by its provider account and stored with everything it came with", () =>
      Effect.gen(function* () {
        const { tenant, account, connection: c } = yield* stripeAccount
        const e = entry({ accountId: account })
        const first = stored(yield* store(e))
        assert.strictEqual(first.tenantId, tenant)
        const event = yield* eventOf(tenant, "stripe", first.id)
        assert.strictEqual(event.tenantId, tenant)
        assert.strictEqual(event.connectionId, c.id)
        assert.strictEqual(event.provider, "stripe")
        assert.strictEqual(event.eventId, e.eventId)
        assert.strictEqual(event.type, "customer.created")
        assert.strictEqual(event.status, "received")
        assert.strictEqual(event.accountId, account)
        assert.strictEqual(event.attempts, 0)
        assert.isNull(event.lastError)
        assert.isNull(event.processedAt)
        assert.deepStrictEqual(event.occurredAt, new Date("2026-11-01T10:00:00.000Z"))
        assert.instanceOf(event.receivedAt, Date)
        assert.deepStrictEqual(event.payload, JSON.parse(payloadJson), "payload keys come back as sent")
      }))

    test("a payload jsonb could not hold (NUL, lone surrogate) is stored as bytes and reads back whole", () =>
      Effect.gen(function* () {
        const { tenant, account } = yield* stripeAccount
        for (const text of ["nul \\u0000 inside", "lone \\ud800 surrogate"]) {
          const json = `{"id":"evt_odd","data":{"note":"${text}"}}`
          const e = entry({ accountId: account, body: new TextEncoder().encode(json) })
          const event = yield* eventOf(tenant, "stripe", stored(yield* store(e)).id)
          assert.deepStrictEqual(event.payload, JSON.parse(json))
        }
      }))

    test("a second delivery of an event is a duplicate and changes nothing", () =>
      Effect.gen(function* () {
        const { tenant, account, connection } = yield* stripeAccount
        const e = entry({ accountId: account })
        stored(yield* store(e))
        assert.deepStrictEqual(yield* store({ ...e, type: "customer.updated" }), [
          { _tag: "Duplicate", tenantId: tenant, connectionId: connection.id }
        ])
        const all = yield* listAll(tenant, "stripe", 10)
        assert.deepStrictEqual(
          all.map((x) => [x.eventId, x.type]),
          [[e.eventId, "customer.created"]]
        )
      }))

    test("concurrent deliveries of one event: exactly one is stored", () =>
      Effect.gen(function* () {
        const { tenant, account } = yield* stripeAccount
        const e = entry({ accountId: account })
        const outcomes = yield* Effect.all(
          Array.from({ length: 5 }, () => store(e)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(outcomes.filter((o) => single(o)._tag === "Stored").length, 1)
        assert.strictEqual(outcomes.filter((o) => single(o)._tag === "Duplicate").length, 4)
        assert.strictEqual((yield* listAll(tenant, "stripe", 10)).length, 1)
      }))

    test("an endpoint routes to its own connection only, whatever account the event names", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const endpoints = yield* WebhookEndpoints
        const tenantA = freshTenant()
        const tenantB = freshTenant()
        const account = unique("acct")
        yield* routable(tenantA, "stripe", account)
        const own = yield* routable(tenantB, "stripe", unique("acct"))
        const publicId = yield* stripeEndpoint(
          own,
          (id) => `https://integrations.example.test/api/v1/integrations/webhooks/stripe?endpoint=${id}`,
          ["*"]
        )
        const route = yield* inbox.endpoint("stripe", publicId).pipe(Effect.map(Option.getOrThrow))
        assert.deepStrictEqual({ ...route }, { tenantId: tenantB, connectionId: own.id, venueId: own.venueId })
        assert.isTrue(Option.isNone(yield* inbox.endpoint("square", publicId)))
        assert.isTrue(Option.isNone(yield* inbox.endpoint("stripe", unique("we"))))

        const viaEndpoint = stored(yield* store(entry({ accountId: account, endpoint: publicId })))
        assert.strictEqual(viaEndpoint.tenantId, tenantB)
        assert.strictEqual((yield* eventOf(tenantB, "stripe", viaEndpoint.id)).connectionId, own.id)
        unroutable(yield* store(entry({ accountId: account, endpoint: unique("we") })))

        yield* endpoints.remove(tenantB, own.id)
        assert.isTrue(Option.isNone(yield* inbox.endpoint("stripe", publicId)))
        unroutable(yield* store(entry({ endpoint: publicId })))
      }))

    test("one provider event id is a separate event in each tenant", () =>
      Effect.gen(function* () {
        const eventId = unique("evt")
        const outcomes: Array<ReturnType<typeof stored>> = []
        for (const tenant of [freshTenant(), freshTenant()]) {
          const c = yield* routable(tenant, "stripe", null)
          const publicId = yield* stripeEndpoint(c, () => "https://integrations.example.test/", [])
          outcomes.push(stored(yield* store(entry({ eventId, endpoint: publicId }))))
        }
        assert.notStrictEqual(outcomes[0]!.id, outcomes[1]!.id)
      }))

    test("by account, every connection that proved the account gets its own copy, each de-duplicated", () =>
      Effect.gen(function* () {
        const tenantA = freshTenant()
        const tenantB = freshTenant()
        const shared = unique("MERCHANT")
        const b = yield* routable(tenantB, "square", shared, { status: "disconnected" })
        const e = entry({ provider: "square", accountId: shared })
        assert.strictEqual(stored(yield* store(e)).connectionId, b.id, "a disconnected connection keeps its copies")

        // Two venues of one merchant in tenant B and one in tenant A: three copies, each de-duplicated on its own.
        const a = yield* routable(tenantA, "square", shared)
        const b2 = yield* routable(tenantB, "square", shared)
        const again = yield* store(e)
        assert.deepStrictEqual(
          again.map((c) => `${c._tag}:${c.connectionId}`).sort(),
          [`Duplicate:${b.id}`, `Stored:${a.id}`, `Stored:${b2.id}`].sort()
        )
        const copies = (yield* listAll(tenantB, "square", 10)).filter((x) => x.eventId === e.eventId)
        assert.deepStrictEqual(copies.map((x) => x.connectionId).sort(), [b.id, b2.id].sort())
        assert.deepStrictEqual(
          (yield* store(e)).map((c) => c._tag),
          ["Duplicate", "Duplicate", "Duplicate"]
        )

        unroutable(
          yield* store(entry({ provider: "mailchimp", accountId: shared })),
          "an account id routes within its provider only"
        )
      }))

    test("unroutable events and rejected deliveries are kept aside, each event once", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const routing = yield* WebhookRouting
        const nobody = entry({ provider: "mailchimp", accountId: unique("LIST") })
        unroutable(yield* store(nobody))
        unroutable(yield* store(nobody))
        const anonymous = entry({ provider: "mailchimp" })
        unroutable(yield* store(anonymous))
        const detail = unique("body.type is missing")
        yield* inbox.reject("mailchimp", detail, new TextEncoder().encode("type=&data[x]=1"))
        const kept = yield* routing.quarantined("mailchimp")
        assert.strictEqual(kept.filter((q) => q.eventId === nobody.eventId && q.reason === "unroutable").length, 1)
        assert.strictEqual(kept.filter((q) => q.eventId === anonymous.eventId && q.reason === "unroutable").length, 1)
        assert.isTrue(kept.some((q) => q.reason === "rejected" && q.eventId === null && q.detail === detail))
      }))

    test("apply runs the handler once and settles the event; later deliveries find it settled", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const processed = stored(yield* store(entry({ accountId: account })))
        const ignored = stored(yield* store(entry({ accountId: account })))
        let runs = 0
        const seen: Array<InboxEvent> = []
        const handler = (verdict: "processed" | "ignored") => (event: InboxEvent) =>
          Effect.sync(() => {
            runs++
            seen.push(event)
            return verdict
          })
        assert.strictEqual(yield* inbox.apply(tenant, processed.id, handler("processed")), "processed")
        assert.strictEqual(seen[0]!.id, processed.id)
        assert.strictEqual(seen[0]!.status, "received")
        assert.strictEqual(yield* inbox.apply(tenant, ignored.id, handler("ignored")), "ignored")
        assert.strictEqual(yield* inbox.apply(tenant, processed.id, handler("processed")), "settled")
        assert.strictEqual(yield* inbox.apply(tenant, ignored.id, handler("processed")), "settled")
        assert.strictEqual(runs, 2)
        const row = yield* eventOf(tenant, "stripe", processed.id)
        assert.strictEqual(row.status, "processed")
        assert.strictEqual(row.attempts, 1)
        assert.instanceOf(row.processedAt, Date)
        assert.strictEqual((yield* eventOf(tenant, "stripe", ignored.id)).status, "ignored")
      }))

    test("apply finds nothing for an unknown id or another tenant's event, and runs nothing", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const mine = stored(yield* store(entry({ accountId: account })))
        let runs = 0
        const handler = () =>
          Effect.sync(() => {
            runs++
            return "processed" as const
          })
        assert.strictEqual(yield* inbox.apply(tenant, crypto.randomUUID(), handler), "missing")
        assert.strictEqual(yield* inbox.apply(freshTenant(), mine.id, handler), "missing")
        assert.strictEqual(runs, 0)
        assert.strictEqual((yield* eventOf(tenant, "stripe", mine.id)).status, "received")
      }))

    test("concurrent applies of one event run its handler once", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const { id } = stored(yield* store(entry({ accountId: account })))
        let runs = 0
        const handler = () =>
          Effect.sync(() => runs++).pipe(Effect.andThen(Effect.sleep("30 millis")), Effect.as("processed" as const))
        const outcomes = yield* Effect.all(
          Array.from({ length: 4 }, () => inbox.apply(tenant, id, handler)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(runs, 1)
        assert.deepStrictEqual([...outcomes].sort(), ["processed", "settled", "settled", "settled"])
      }))

    test("a failing handler changes nothing; failures are counted, dead when given up, never over a settled event", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const { id } = stored(yield* store(entry({ accountId: account })))
        const refused = yield* Effect.flip(inbox.apply(tenant, id, () => Effect.fail("downstream refused" as const)))
        assert.strictEqual(refused, "downstream refused")
        const untouched = yield* eventOf(tenant, "stripe", id)
        assert.strictEqual(untouched.status, "received")
        assert.strictEqual(untouched.attempts, 0)

        yield* inbox.recordFailure(tenant, id, "downstream refused", false)
        const failed = yield* eventOf(tenant, "stripe", id)
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.attempts, 1)
        assert.strictEqual(failed.lastError, "downstream refused")
        yield* inbox.recordFailure(tenant, id, "x".repeat(5000), true)
        const dead = yield* eventOf(tenant, "stripe", id)
        assert.strictEqual(dead.status, "dead")
        assert.strictEqual(dead.attempts, 2)
        assert.strictEqual(dead.lastError, "x".repeat(2000))
        yield* inbox.recordFailure(freshTenant(), id, "not yours", true)
        assert.strictEqual((yield* eventOf(tenant, "stripe", id)).attempts, 2)

        assert.strictEqual(yield* inbox.apply(tenant, id, () => Effect.succeed("processed" as const)), "processed")
        const done = yield* eventOf(tenant, "stripe", id)
        assert.strictEqual(done.status, "processed")
        assert.strictEqual(done.attempts, 3)
        assert.isNull(done.lastError)
        yield* inbox.recordFailure(tenant, id, "late", true)
        assert.strictEqual((yield* eventOf(tenant, "stripe", id)).status, "processed")
      }))

    test("requeue puts failed and dead events back, one by id or all of the provider", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const ids = []
        for (let i = 0; i < 3; i++) ids.push(stored(yield* store(entry({ accountId: account }))).id)
        const [dead, failed, processed] = ids as [string, string, string]
        yield* inbox.recordFailure(tenant, dead, "boom", true)
        yield* inbox.recordFailure(tenant, failed, "boom", false)
        yield* inbox.apply(tenant, processed, () => Effect.succeed("processed" as const))

        assert.deepStrictEqual(yield* inbox.requeue(freshTenant(), "stripe", Option.none()), [])
        assert.deepStrictEqual(yield* inbox.requeue(tenant, "square", Option.none()), [])
        const one = yield* inbox.requeue(tenant, "stripe", Option.some(dead))
        assert.deepStrictEqual(
          one.map((p) => ({ ...p })),
          [{ id: dead, tenantId: tenant, provider: "stripe", requeues: 1, traceParent }]
        )
        const back = yield* eventOf(tenant, "stripe", dead)
        assert.strictEqual(back.status, "received")
        assert.strictEqual(back.attempts, 0)
        assert.isNull(back.lastError)

        const rest = yield* inbox.requeue(tenant, "stripe", Option.none())
        assert.deepStrictEqual(
          rest.map((p) => [p.id, p.requeues]),
          [[failed, 1]]
        )
        yield* inbox.recordFailure(tenant, dead, "again", true)
        const twice = yield* inbox.requeue(tenant, "stripe", Option.some(dead))
        assert.strictEqual(twice[0]?.requeues, 2)
      }))

    test("pending lists received events older than the given age, oldest first, across tenants", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const [t1, t2] = [freshTenant(), freshTenant()]
        const [a1, a2] = [unique("acct"), unique("acct")]
        yield* routable(t1, "stripe", a1)
        yield* routable(t2, "stripe", a2)
        const first = stored(yield* store(entry({ accountId: a1 })))
        yield* Effect.sleep("5 millis")
        const second = stored(yield* store(entry({ accountId: a2, traceParent: null })))
        const settledOne = stored(yield* store(entry({ accountId: a2 })))
        yield* inbox.apply(t2, settledOne.id, () => Effect.succeed("ignored" as const))
        yield* Effect.sleep("250 millis")
        const young = stored(yield* store(entry({ accountId: a1 })))

        const pending = yield* inbox.pending(Duration.millis(150), 10_000)
        const ours = pending.filter((p) => [first.id, second.id, settledOne.id, young.id].includes(p.id))
        assert.deepStrictEqual(
          ours.map((p) => ({ ...p })),
          [
            { id: first.id, tenantId: t1, provider: "stripe", requeues: 0, traceParent },
            { id: second.id, tenantId: t2, provider: "stripe", requeues: 0, traceParent: null }
          ]
        )
        assert.strictEqual((yield* inbox.pending(Duration.zero, 1)).length, 1)
      }))

    test("list: newest first, filtered by status and type, paged by cursor", () =>
      Effect.gen(function* () {
        const inbox = yield* WebhookInbox
        const { tenant, account } = yield* stripeAccount
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) {
          ids.push(stored(yield* store(entry({ accountId: account, type: i % 2 === 0 ? "even" : "odd" }))).id)
          yield* Effect.sleep("3 millis")
        }
        yield* inbox.apply(tenant, ids[0]!, () => Effect.succeed("processed" as const))
        const newestFirst = [...ids].reverse()
        for (const limit of [1, 2, 5, 6])
          assert.deepStrictEqual(
            (yield* listAll(tenant, "stripe", limit)).map((e) => e.id),
            newestFirst,
            `pages of ${limit}`
          )
        const first = yield* inbox.list(tenant, "stripe", { limit: 5 })
        assert.isNull(first.next, "no next page when everything fits")
        assert.deepStrictEqual(
          (yield* listAll(tenant, "stripe", 1, { type: "even" })).map((e) => e.id),
          [ids[4], ids[2], ids[0]]
        )
        assert.deepStrictEqual(
          (yield* listAll(tenant, "stripe", 2, { status: "received", type: "even" })).map((e) => e.id),
          [ids[4], ids[2]]
        )
        assert.deepStrictEqual(yield* listAll(tenant, "square", 2), [])
        assert.deepStrictEqual(yield* listAll(freshTenant(), "stripe", 2), [])
      }))

    test("list pages through events stored at the same moment without losing any", () =>
      Effect.gen(function* () {
        const { tenant, account } = yield* stripeAccount
        const outcomes = yield* Effect.all(
          Array.from({ length: 6 }, () => store(entry({ accountId: account }))),
          { concurrency: "unbounded" }
        )
        const ids = outcomes.map((o) => stored(o).id).sort()
        const listed = (yield* listAll(tenant, "stripe", 2)).map((e) => e.id)
        assert.deepStrictEqual([...listed].sort(), ids)
      }))
  })

describe("WebhookInbox contract", () => {
  contract("memory", memoryWebhooks)
  contract("postgres", postgresWebhooks)
})
