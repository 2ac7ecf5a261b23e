import { createHash } from "node:crypto"
import { Clock, type Config, Effect } from "effect"
import { type SquareClient, SquareError } from "square"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import { ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import type { OutboundItem, ProviderWriter, WriteOutcome, WriteRequest } from "../../../ports/sync/ProviderWrites.ts"
import { squareWireConfig } from "./SquareConfig.ts"
import { type SquareWireConfig, squareCall } from "./SquareWire.ts"

/**
 * Not a catalog field: the outbound mapping's remaining ticket capacity on the first variation
 * (`item_data.variations[0].inventory_count`), pushed as that variation's inventory count and left out of the object.
 */
export const inventoryField = "inventory_count"

/** Square's limits (PROVIDERS.md §1c): objects per batch-upsert request (nested variations count), ids per call. */
const objectsPerRequest = 10_000
const idsPerDelete = 200
const idsPerRetrieve = 1000
const changesPerInventoryCall = 100

/** Catalog ITEMs per write: one batch each, so that one refused item never takes the others down with it. */
const itemsPerWrite = 1000

/** Square's answer to one object or request it refused. */
interface SquareProblem {
  readonly code: string
  readonly detail: string
  readonly field: string | null
}

type Answer =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly problems: ReadonlyArray<SquareProblem> }

/** What Square refuses for the request itself; 401/403/408/429/5xx stop the whole write instead. */
const refusals = new Set([400, 404, 409, 422])
/** A stale object: re-read it and apply the change again. */
const stale = new Set(["VERSION_MISMATCH", "CONFLICT"])

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
const list = (value: unknown): ReadonlyArray<Record<string, unknown>> => (Array.isArray(value) ? value.map(record) : [])

const problemsOf = (body: unknown): ReadonlyArray<SquareProblem> =>
  list(record(body).errors).map((e) => ({
    code: String(e.code ?? "UNKNOWN"),
    detail: String(e.detail ?? ""),
    field: typeof e.field === "string" ? e.field : null
  }))

const reasonOf = (problems: ReadonlyArray<SquareProblem>): string =>
  problems.length === 0
    ? "Square refused the request"
    : problems
        .map((p) => `${p.code}${p.detail === "" ? "" : ` ${p.detail.slice(0, 300)}`}${p.field ? ` (${p.field})` : ""}`)
        .join("; ")

const hashOf = (...parts: ReadonlyArray<string>) => createHash("sha256").update(parts.join("\u0000")).digest("hex")

/** The SDK's request shape from Square's wire fields: camelCase names, `amount` and `version` as bigint. */
const toSdk = (value: unknown, key = ""): unknown => {
  if (Array.isArray(value)) return value.map((v) => toSdk(v))
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), toSdk(v, k)])
    )
  if ((key === "amount" || key === "version") && typeof value === "number" && Number.isInteger(value))
    return BigInt(value)
  return value
}

const withoutNulls = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined))

/** Fields laid over an object: a value replaces, a null removes. */
const overlay = (base: Record<string, unknown>, fields: Record<string, unknown>) => {
  const merged = { ...base }
  for (const [key, value] of Object.entries(fields)) {
    if (value === null) delete merged[key]
    else if (value !== undefined) merged[key] = value
  }
  return merged
}

const failed = (item: OutboundItem, reason: string): WriteOutcome => ({
  platformId: item.platformId,
  outcome: "failed",
  reason
})

/** The engine never sends a deletion of a record it never pushed: there is nothing to archive, say so. */
const unlinkedDeletion = (item: OutboundItem) =>
  failed(item, "a deletion of a record never pushed to Square: nothing to delete")

// ---- catalog objects

/** An ITEM as sent: read-only fields of the object as last read dropped, `id` and `version` kept. */
const writable = (object: Record<string, unknown>) => {
  const { created_at: _c, updated_at: _u, is_deleted: _d, ...rest } = object
  return rest
}

const variationsOf = (object: Record<string, unknown>) => list(record(object.item_data).variations)

/** The mapped count of the first variation, or null when the mapping gives none (capacity unknown: not pushed). */
const inventoryOf = (fields: Record<string, unknown> | null): number | null => {
  const value = fields === null ? undefined : variationsOf(fields)[0]?.[inventoryField]
  return typeof value === "number" && Number.isFinite(value) ? value : null
}

/**
 * The ITEM to upsert: the mapped fields laid over `base` (Square's object as last read, so the seller's own fields —
 * category, taxes, images, other variations — survive a full-object upsert), or a new ITEM with `#` ids made from the
 * item's idempotency key (the same on every retry, as the request must be). A counted variation tracks inventory.
 */
const catalogObject = (item: OutboundItem, base: Record<string, unknown> | null): Record<string, unknown> => {
  const fields = item.fields ?? {}
  const { item_data: mappedData, ...mappedTop } = fields
  const { variations: mappedVariations, ...data } = record(mappedData)
  const { [inventoryField]: _count, ...mappedVariation } = list(mappedVariations)[0] ?? {}
  const counted = inventoryOf(fields) !== null
  const variationData = (was: Record<string, unknown>) => {
    const merged = overlay(was, record(mappedVariation.item_variation_data))
    return {
      ...merged,
      pricing_type: merged.price_money === undefined ? "VARIABLE_PRICING" : "FIXED_PRICING",
      ...(counted ? { track_inventory: true } : {})
    }
  }
  const temp = `#${item.idempotencyKey}`
  if (base === null) {
    return {
      ...withoutNulls(mappedTop),
      type: "ITEM",
      id: temp,
      present_at_all_locations: true,
      item_data: {
        ...withoutNulls(data),
        variations: [
          {
            ...withoutNulls(mappedVariation),
            type: "ITEM_VARIATION",
            id: `${temp}-v`,
            present_at_all_locations: true,
            item_variation_data: variationData({})
          }
        ]
      }
    }
  }
  const [first, ...others] = variationsOf(base)
  const variation =
    first === undefined
      ? { type: "ITEM_VARIATION", id: `${temp}-v`, item_variation_data: variationData({}) }
      : {
          ...overlay(writable(first), mappedVariation),
          item_variation_data: variationData(record(first.item_variation_data))
        }
  return {
    ...overlay(writable(base), mappedTop),
    type: "ITEM",
    item_data: { ...overlay(record(base.item_data), data), variations: [variation, ...others.map(writable)] }
  }
}

/** One item's ITEM in a batch-upsert: the object sent and how to find it in the answer. */
interface Upsert {
  readonly item: OutboundItem
  readonly object: Record<string, unknown>
  /** Created (a `#` id) or updated. */
  readonly creates: boolean
}

const upsertOf = (item: OutboundItem, base: Record<string, unknown> | null): Upsert => ({
  item,
  object: catalogObject(item, base),
  creates: base === null
})

/** Ids an error may name for this item: the ITEM's and its variations'. */
const idsOf = (upsert: Upsert) => [String(upsert.object.id), ...variationsOf(upsert.object).map((v) => String(v.id))]

type Settled =
  | { readonly upsert: Upsert; readonly object: Record<string, unknown> }
  | { readonly upsert: Upsert; readonly problems: ReadonlyArray<SquareProblem> }

/**
 * Each item's fate in a batch-upsert answer. Written: its `#` id in `id_mappings` (created) or its id among `objects`
 * (updated). Otherwise its batch was refused, for the errors naming one of its ids, else for every error.
 */
const settle = (upserts: ReadonlyArray<Upsert>, answer: Answer): ReadonlyArray<Settled> => {
  const body = answer.ok ? answer.body : {}
  const problems = answer.ok ? problemsOf(body) : answer.problems
  const objects = new Map(list(body.objects).map((o) => [String(o.id), o] as const))
  const mapped = new Map(list(body.id_mappings).map((m) => [String(m.client_object_id), String(m.object_id)] as const))
  return upserts.map((upsert): Settled => {
    const id = String(upsert.object.id)
    const object = objects.get(upsert.creates ? (mapped.get(id) ?? "") : id)
    if (object !== undefined) return { upsert, object }
    const ids = idsOf(upsert)
    const named = problems.filter((p) => ids.some((i) => p.detail.includes(`\`${i}\``)))
    return { upsert, problems: named.length > 0 ? named : problems }
  })
}

/** Requests of at most `objectsPerRequest` objects, each item its own batch. */
const requestsOf = (upserts: ReadonlyArray<Upsert>): ReadonlyArray<ReadonlyArray<Upsert>> => {
  const requests: Array<Array<Upsert>> = []
  let objects = objectsPerRequest
  for (const upsert of upserts) {
    const count = 1 + variationsOf(upsert.object).length
    if (objects + count > objectsPerRequest) {
      requests.push([])
      objects = 0
    }
    requests.at(-1)!.push(upsert)
    objects += count
  }
  return requests
}

/**
 * A batch-upsert's `idempotency_key` (64 of Square's 128 characters): a hash of its items' keys, so that the same
 * items pushed again after a crash replay Square's first answer — the same `id_mappings`, nothing created twice. An
 * update's part also hashes the object sent: the same push built on a newer read of the object (a later version) is
 * another request, which the old key would have Square refuse as `IDEMPOTENCY_KEY_REUSED`; an update sent twice is
 * harmless, its `version` guards it.
 */
const requestKey =
  (round: string) =>
  (batch: ReadonlyArray<Upsert>): string =>
    hashOf(
      round,
      ...batch.map((u) =>
        u.creates ? u.item.idempotencyKey : `${u.item.idempotencyKey}@${hashOf(JSON.stringify(u.object))}`
      )
    )

const chunks = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/**
 * Writes a seller's customers and catalog with the official `square` SDK (PROVIDERS.md §1c, §3).
 *
 * Customers, one call each: `POST /v2/customers` with the push's key as `idempotency_key` (so a replay after a crash
 * answers the first customer again) and `reference_id` = the platform id; `PUT /v2/customers/{id}` with the `version`
 * last seen — stale (`VERSION_MISMATCH`) → read it again, apply the change to the current version, retry once; gone
 * (404) → created again; `DELETE /v2/customers/{id}` → archived (already gone: archived too).
 *
 * Products, up to 1,000 ITEMs per write in one `POST /v2/catalog/batch-upsert` (an ITEM and its variation are two
 * of the request's 10,000 objects; more variations, more requests), each ITEM its own all-or-nothing batch. The
 * request's `idempotency_key` is a hash of its items' keys: the same items retried give the same key and Square's
 * first answer, the same `id_mappings`, nothing created twice. New ITEMs carry `#` ids; updates carry the ITEM's and
 * its variations' `version`s. Items refused as stale or missing are read again (`batch-retrieve`) and upserted once
 * more on the current versions (a vanished ITEM is created again). Deletions: `POST /v2/catalog/batch-delete`.
 *
 * Inventory: a written ITEM whose mapping gives `inventory_count` has that count pushed as its variation's
 * PHYSICAL_COUNT at the seller's first location (`GET /v2/locations`, once per write) through
 * `POST /v2/inventory/changes/batch-create`, so that a sold-out show is sold out at the box office too. A refused
 * count fails the item: the engine pushes it again, and the catalog upsert replays its first answer.
 */
export const squareWrites = (config: SquareWireConfig): ProviderWriter => {
  /** One SDK call through the engine's `call`; Square's refusal of the request is an answer, not a failure. */
  const send = <E>(
    request: WriteRequest<E>,
    operation: string,
    run: (client: SquareClient, signal: AbortSignal) => Promise<unknown>
  ): Effect.Effect<Answer, ProviderCallFailed | E> => {
    // Each attempt (the engine's `call` may retry) keeps its own refusal.
    const attempt = Effect.suspend(() => {
      let refused: SquareError | undefined
      return squareCall(config, request.credential.token, operation, async (client, signal) => {
        try {
          return await run(client, signal)
        } catch (cause) {
          if (cause instanceof SquareError && cause.statusCode !== undefined && refusals.has(cause.statusCode))
            refused = cause
          throw cause
        }
      }).pipe(
        Effect.map((answer): Answer => ({ ok: true, body: answer.body })),
        Effect.catch((failure) =>
          refused === undefined
            ? Effect.fail(failure)
            : Effect.succeed<Answer>({
                ok: false,
                status: refused.statusCode ?? 400,
                problems: problemsOf(refused.body)
              })
        )
      )
    })
    return request.call(operation, attempt)
  }

  // ---- customers

  const customerOf = (answer: { readonly body: Record<string, unknown> }) => record(answer.body.customer)

  const createCustomer = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, item: OutboundItem) {
    const body = { ...withoutNulls(item.fields ?? {}), reference_id: item.platformId }
    const answer = yield* send(request, "write_customer", (client, abortSignal) =>
      client.customers.create({ ...(toSdk(body) as object), idempotencyKey: item.idempotencyKey }, { abortSignal })
    )
    if (!answer.ok) return failed(item, reasonOf(answer.problems))
    const customer = customerOf(answer)
    return { platformId: item.platformId, outcome: "created", externalId: String(customer.id), raw: customer } as const
  })

  const updateCustomer = Effect.fnUntraced(function* <E>(
    request: WriteRequest<E>,
    item: OutboundItem,
    id: string,
    version: unknown,
    retried: boolean
  ): Effect.fn.Return<WriteOutcome, ProviderCallFailed | E> {
    const answer = yield* send(request, "write_customer", (client, abortSignal) =>
      client.customers.update(
        {
          ...(toSdk(item.fields ?? {}) as object),
          customerId: id,
          ...(typeof version === "number" ? { version: BigInt(version) } : {})
        },
        { abortSignal }
      )
    )
    if (answer.ok) {
      const customer = customerOf(answer)
      return { platformId: item.platformId, outcome: "updated", externalId: id, raw: customer }
    }
    if (answer.status === 404) return yield* createCustomer(request, item)
    if (retried || !answer.problems.some((p) => stale.has(p.code))) return failed(item, reasonOf(answer.problems))
    const current = yield* send(request, "read_customer", (client, abortSignal) =>
      client.customers.get({ customerId: id }, { abortSignal })
    )
    if (!current.ok)
      return current.status === 404 ? yield* createCustomer(request, item) : failed(item, reasonOf(current.problems))
    return yield* updateCustomer(request, item, id, customerOf(current).version, true)
  })

  const deleteCustomer = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, item: OutboundItem) {
    const link = item.link
    if (link === null) return unlinkedDeletion(item)
    const answer = yield* send(request, "write_customer", (client, abortSignal) =>
      client.customers.delete({ customerId: link.externalId }, { abortSignal })
    )
    if (!answer.ok && answer.status !== 404) return failed(item, reasonOf(answer.problems))
    return { platformId: item.platformId, outcome: "archived", externalId: link.externalId, raw: link.raw } as const
  })

  const writeCustomers = <E>(request: WriteRequest<E>) =>
    Effect.forEach(request.items, (item): Effect.Effect<WriteOutcome, ProviderCallFailed | E> => {
      if (item.deleted) return deleteCustomer(request, item)
      if (item.link === null) return createCustomer(request, item)
      return updateCustomer(request, item, item.link.externalId, item.link.raw.version, false)
    })

  // ---- catalog

  const upsert = Effect.fnUntraced(function* <E>(
    request: WriteRequest<E>,
    upserts: ReadonlyArray<Upsert>,
    keyOf: (upserts: ReadonlyArray<Upsert>) => string
  ) {
    const settled: Array<Settled> = []
    for (const batch of requestsOf(upserts)) {
      const answer = yield* send(request, "batch_upsert_product", (client, abortSignal) =>
        client.catalog.batchUpsert(
          {
            idempotencyKey: keyOf(batch),
            batches: batch.map((u) => ({ objects: [toSdk(u.object)] })) as never
          },
          { abortSignal }
        )
      )
      settled.push(...settle(batch, answer))
    }
    return settled
  })

  /** Square's current objects of these ids (left out: deleted or unknown), or its refusal. */
  const retrieve = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, ids: ReadonlyArray<string>) {
    const found = new Map<string, Record<string, unknown>>()
    for (const chunk of chunks(ids, idsPerRetrieve)) {
      const answer = yield* send(request, "read_product", (client, abortSignal) =>
        client.catalog.batchGet({ objectIds: [...chunk] }, { abortSignal })
      )
      if (!answer.ok) return answer.problems
      for (const object of list(answer.body.objects)) found.set(String(object.id), object)
    }
    return found
  })

  /** Upserts the items once, then once more those refused as stale or missing, on Square's current objects. */
  const upsertItems = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, items: ReadonlyArray<OutboundItem>) {
    const sorted = [...items].sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : 1))
    const first = yield* upsert(
      request,
      sorted.map((item) => upsertOf(item, item.link === null ? null : { id: item.link.externalId, ...item.link.raw })),
      requestKey("batch-upsert")
    )
    const again = first.filter(
      (s) =>
        "problems" in s && !s.upsert.creates && s.problems.every((p) => stale.has(p.code) || p.code === "NOT_FOUND")
    )
    if (again.length === 0) return first
    const current = yield* retrieve(
      request,
      again.map((s) => String(s.upsert.object.id))
    )
    if (!(current instanceof Map)) return first
    const retried = yield* upsert(
      request,
      again.map((s) => upsertOf(s.upsert.item, current.get(String(s.upsert.object.id)) ?? null)),
      requestKey("batch-upsert-again")
    )
    const byItem = new Map(retried.map((s) => [s.upsert.item, s] as const))
    return first.map((s) => byItem.get(s.upsert.item) ?? s)
  })

  /** The seller's first location, where counts are pushed; a refusal fails every counted item. */
  const firstLocation = Effect.fnUntraced(function* <E>(request: WriteRequest<E>) {
    const answer = yield* send(request, "read_locations", (client, abortSignal) =>
      client.locations.list({ abortSignal })
    )
    if (!answer.ok) return { problems: answer.problems }
    const id = list(answer.body.locations)[0]?.id
    return typeof id === "string"
      ? { id }
      : { problems: [{ code: "NOT_FOUND", detail: "the seller has no location", field: null }] }
  })

  /** Pushes the counts of written items; the reason each count failed, by item. */
  const pushCounts = Effect.fnUntraced(function* <E>(
    request: WriteRequest<E>,
    counted: ReadonlyArray<{ readonly item: OutboundItem; readonly variationId: string; readonly count: number }>
  ) {
    const refusedCounts = new Map<OutboundItem, string>()
    if (counted.length === 0) return refusedCounts
    const location = yield* firstLocation(request)
    if ("problems" in location) {
      for (const c of counted) refusedCounts.set(c.item, `inventory: ${reasonOf(location.problems)}`)
      return refusedCounts
    }
    const occurredAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    // The key is the items' keys alone, so a page pushed again after a crash sends the same key: Square keeps the
    // first count, and answers the repeat (whose occurred_at is later) IDEMPOTENCY_KEY_REUSED — already counted.
    for (const chunk of chunks(counted, changesPerInventoryCall)) {
      const answer = yield* send(request, "write_inventory", (client, abortSignal) =>
        client.inventory.batchCreateChanges(
          {
            idempotencyKey: hashOf("inventory", ...chunk.map((c) => c.item.idempotencyKey)),
            changes: chunk.map((c) => ({
              type: "PHYSICAL_COUNT",
              physicalCount: {
                catalogObjectId: c.variationId,
                state: "IN_STOCK",
                locationId: location.id,
                quantity: String(c.count),
                occurredAt
              }
            }))
          },
          { abortSignal }
        )
      )
      if (!answer.ok && !answer.problems.every((p) => p.code === "IDEMPOTENCY_KEY_REUSED"))
        for (const c of chunk) refusedCounts.set(c.item, `inventory: ${reasonOf(answer.problems)}`)
    }
    return refusedCounts
  })

  const deleteItems = Effect.fnUntraced(function* <E>(request: WriteRequest<E>, items: ReadonlyArray<OutboundItem>) {
    const outcomes: Array<WriteOutcome> = []
    const linked = items.flatMap((item) => (item.link === null ? [] : [{ item, link: item.link }]))
    for (const item of items) if (item.link === null) outcomes.push(unlinkedDeletion(item))
    for (const chunk of chunks(linked, idsPerDelete)) {
      const answer = yield* send(request, "delete_product", (client, abortSignal) =>
        client.catalog.batchDelete({ objectIds: chunk.map((c) => c.link.externalId) }, { abortSignal })
      )
      for (const { item, link } of chunk) {
        // An id Square did not delete was deleted already: the item is archived either way.
        outcomes.push(
          answer.ok
            ? {
                platformId: item.platformId,
                outcome: "archived",
                externalId: link.externalId,
                raw: { ...link.raw, is_deleted: true, updated_at: answer.body.deleted_at ?? link.raw.updated_at }
              }
            : failed(item, reasonOf(answer.problems))
        )
      }
    }
    return outcomes
  })

  const writeProducts = Effect.fnUntraced(function* <E>(request: WriteRequest<E>) {
    const outcomes = yield* deleteItems(
      request,
      request.items.filter((i) => i.deleted)
    )
    const live = request.items.filter((i) => !i.deleted)
    if (live.length === 0) return outcomes
    const settled = yield* upsertItems(request, live)
    const counted = settled.flatMap((s) => {
      const count = inventoryOf(s.upsert.item.fields)
      const variationId = "object" in s ? variationsOf(s.object)[0]?.id : undefined
      return count === null || typeof variationId !== "string" ? [] : [{ item: s.upsert.item, variationId, count }]
    })
    const refusedCounts = yield* pushCounts(request, counted)
    for (const s of settled) {
      const item = s.upsert.item
      const refusedCount = refusedCounts.get(item)
      if ("problems" in s) outcomes.push(failed(item, reasonOf(s.problems)))
      else if (refusedCount !== undefined) outcomes.push(failed(item, refusedCount))
      else
        outcomes.push({
          platformId: item.platformId,
          outcome: s.upsert.creates ? "created" : "updated",
          externalId: String(s.object.id),
          raw: s.object
        })
    }
    return outcomes
  })

  const writers: Partial<
    Record<
      EntityType,
      <E>(request: WriteRequest<E>) => Effect.Effect<ReadonlyArray<WriteOutcome>, ProviderCallFailed | E>
    >
  > = { customer: writeCustomers, product: writeProducts }

  return {
    provider: "square",
    batchSize: (entityType) => (entityType === "product" ? itemsPerWrite : 1),
    write: <E>(request: WriteRequest<E>) => {
      const writer = writers[request.entityType]
      if (writer === undefined)
        return Effect.fail(
          new ProviderCallFailed({
            provider: "square",
            kind: "rejected",
            status: null,
            retryAfterMillis: null,
            message: `Square takes no outbound ${request.entityType} records`
          })
        )
      return writer(request).pipe(
        Effect.withSpan("SquareWrites.write", {
          attributes: { entityType: request.entityType, items: request.items.length }
        })
      )
    }
  }
}

/** The Square writer from the reader's configuration (`squareWireConfig`). */
export const makeSquareWrites: Effect.Effect<ProviderWriter, Config.ConfigError> = Effect.map(
  squareWireConfig,
  squareWrites
)
