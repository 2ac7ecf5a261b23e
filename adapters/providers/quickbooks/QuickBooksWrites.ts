import { Clock, type Config, Effect, Redacted } from "effect"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import { exponentOf } from "../../../domain/canonical/Money.ts"
import type { DataCredential, ProviderCallFailed } from "../../../ports/sync/ProviderData.ts"
import type {
  ExternalLink,
  OutboundItem,
  ProviderWriter,
  WriteOutcome,
  WriteRequest
} from "../../../ports/sync/ProviderWrites.ts"
import { type Answer, bodyOf, failed, faultOf, makeQuickBooksHttp, type QuickBooksRequest } from "./QuickBooksHttp.ts"

type QuickBooksObject = Record<string, unknown>

/** The QuickBooks object behind each entity pushed, and its path under `/v3/company/{realm}/`. */
const entities: Partial<Record<EntityType, { readonly name: string; readonly path: string }>> = {
  customer: { name: "Customer", path: "customer" },
  product: { name: "Item", path: "item" },
  order: { name: "SalesReceipt", path: "salesreceipt" },
  invoice: { name: "Invoice", path: "invoice" }
}
/** Name-list objects are never deleted in QuickBooks, only made inactive. */
const nameLists = new Set<EntityType>(["customer", "product"])

/**
 * Items per write. Each is pushed with its own calls, one after another (QuickBooks allows 10 in flight per realm,
 * and the budget is per realm anyway); a write that fails whole is run again with the same request ids, so a short
 * one repeats little. 30 is Intuit's recommended `/batch` size, should the writer move to it.
 */
const itemsPerWrite = 30
/** Suffixes tried for a DisplayName another customer holds: " (2)" … " (9)". */
const lastSuffix = 9

/** What one call answered: the object's data, or QuickBooks refusing this object (its fault code and reason). */
type Judged =
  | { readonly _tag: "data"; readonly body: Record<string, unknown> }
  | { readonly _tag: "refused"; readonly code: string | null; readonly reason: string }

const staleObject = "5010"
const duplicateName = "6240"
const objectNotFound = "610"

/** A 200 OK that carries a Fault instead of the object, as Intuit sometimes answers. */
const faultIn200 = (answer: Answer) => {
  if (answer.status !== 200) return false
  try {
    const body: unknown = JSON.parse(answer.text)
    return typeof body === "object" && body !== null && "Fault" in body
  } catch {
    return false
  }
}

/** 400/404/409/422 (or a 200 with a Fault) refuse the object; 401/403/429/5xx fail the whole write (bodyOf). */
const judge = (answer: Answer, path: string, token: string): Effect.Effect<Judged, ProviderCallFailed> => {
  if ([400, 404, 409, 422].includes(answer.status) || faultIn200(answer)) {
    const fault = faultOf(answer.text, answer.status)
    return Effect.succeed({
      _tag: "refused",
      code: answer.status === 404 ? objectNotFound : (fault?.code ?? null),
      reason: `QuickBooks ${answer.status}: ${(fault?.reason ?? "no reason given").replaceAll(token, "[token]")}`
    })
  }
  return Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) => bodyOf(answer, path, token, now)),
    Effect.map((body) => ({ _tag: "data" as const, body }))
  )
}

const refOf = (value: unknown): string | undefined => {
  const id = (value as { value?: unknown } | undefined)?.value
  return typeof id === "string" && id !== "" ? id : undefined
}

/** A string QuickBooks' query language reads back as itself. */
const quoted = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`

const emailOf = (object: QuickBooksObject): string =>
  String((object.PrimaryEmailAddr as { Address?: unknown } | undefined)?.Address ?? "")
    .trim()
    .toLowerCase()

/**
 * Writing to QuickBooks Online for outbound sync: Customer, Item (Service/NonInventory), SalesReceipt and Invoice,
 * one object per call (`POST /{entity}`), never `/batch`.
 * - Every create, update and delete carries `?requestid=` from the item's idempotency key (QuickBooks answers a
 *   repeat with the original response, so a push replayed after a lost answer creates nothing); a second call for
 *   the same item suffixes the key (`-r` retry, `-c` re-create, `-l` link, `-2`… suffixed name), within 50.
 * - Updates are sparse (`"sparse": true`, `Id` + `SyncToken` from the link's raw); a stale SyncToken (5010) re-reads
 *   the object and applies the same fields once more on its current SyncToken. An update of an object QuickBooks no
 *   longer has (610 Object Not Found, confirmed by a read) creates it again.
 * - Deletion: a Customer or Item is made inactive (sparse `Active: false`); a SalesReceipt or Invoice is deleted
 *   (`?operation=delete` with `Id` + `SyncToken`).
 * - Amounts: the outbound mapping's money transforms already give major units (`UnitPrice`); the writer adds each
 *   sales line's `Amount` (Qty × UnitPrice, rounded to the currency's ISO 4217 exponent), which QuickBooks requires.
 * - Order and invoice references (`CustomerRef.value`, each line's `ItemRef.value`) are platform ids, translated
 *   through `linkOf`; one never pushed fails that item.
 * - Items need an IncomeAccountRef: the first Income account of the company, looked up once per write.
 */
export const makeQuickBooksWrites: Effect.Effect<ProviderWriter, Config.ConfigError> = Effect.gen(function* () {
  const http = yield* makeQuickBooksHttp

  const write = <E>(request: WriteRequest<E>) =>
    Effect.gen(function* () {
      const entity = entities[request.entityType]
      if (entity === undefined)
        return yield* failed("rejected", null, `QuickBooks takes no ${request.entityType} writes`)
      const realm = request.credential.accountId
      if (realm === null)
        return yield* failed("unauthorized", null, "the connection has no QuickBooks company; connect again")
      const credential: DataCredential = request.credential
      const token = Redacted.value(credential.token)
      const type = request.entityType

      const exchange = (operation: string, call: QuickBooksRequest) =>
        request.call(
          operation,
          http.send(credential, realm, call).pipe(Effect.flatMap((answer) => judge(answer, call.path, token)))
        )
      const post = (key: string, body: QuickBooksObject, operation: "delete" | null = null) =>
        exchange(operation === "delete" ? `delete_${type}` : `write_${type}`, {
          method: "POST",
          path: entity.path,
          query: `requestid=${encodeURIComponent(key)}${operation === null ? "" : `&operation=${operation}`}`,
          body
        })
      const read = (id: string) =>
        exchange(`read_${type}`, { method: "GET", path: `${entity.path}/${encodeURIComponent(id)}`, query: "" })
      const query = (operation: string, statement: string) =>
        exchange(operation, { method: "GET", path: "query", query: `query=${encodeURIComponent(statement)}` })

      const objectOf = (body: Record<string, unknown>): QuickBooksObject =>
        (body[entity.name] ?? {}) as QuickBooksObject
      const done = (
        item: OutboundItem,
        outcome: "created" | "updated" | "archived",
        object: QuickBooksObject
      ): WriteOutcome => ({ platformId: item.platformId, outcome, externalId: String(object.Id), raw: object })
      const refused = (item: OutboundItem, reason: string): WriteOutcome => ({
        platformId: item.platformId,
        outcome: "failed",
        reason
      })

      /** The first Income account, found at most once per write: what a new Item books its sales to. */
      let incomeAccount: { readonly value: string; readonly name: string } | null | undefined
      const income = Effect.gen(function* () {
        if (incomeAccount !== undefined) return incomeAccount
        const answer = yield* query("query_account", "select * from Account where AccountType = 'Income'")
        if (answer._tag === "refused") return answer
        const accounts = ((answer.body.QueryResponse as Record<string, unknown> | undefined)?.Account ??
          []) as ReadonlyArray<QuickBooksObject>
        const first = accounts[0]
        incomeAccount = first === undefined ? null : { value: String(first.Id), name: String(first.Name) }
        return incomeAccount
      })

      /**
       * The sparse update of object `id` from `syncToken`; on a stale SyncToken (5010) the object is read again
       * and the same fields applied once more on its current SyncToken (request id `${key}-r`).
       */
      const update = (key: string, id: string, syncToken: unknown, fields: QuickBooksObject) =>
        Effect.gen(function* () {
          const body = (token: unknown) => ({ ...fields, Id: id, SyncToken: token, sparse: true })
          if (syncToken === undefined) {
            // A link without a SyncToken (an object known only by id): read the current one first.
            const fresh = yield* read(id)
            if (fresh._tag === "refused") return fresh
            return yield* post(key, body(objectOf(fresh.body).SyncToken))
          }
          const first = yield* post(key, body(syncToken))
          if (first._tag === "data" || first.code !== staleObject) return first
          const fresh = yield* read(id)
          if (fresh._tag === "refused") return fresh
          return yield* post(`${key}-r`, body(objectOf(fresh.body).SyncToken))
        })

      /** QuickBooks no longer has object `id` when its read is refused as not found. */
      const vanished = (id: string) =>
        read(id).pipe(Effect.map((answer) => answer._tag === "refused" && answer.code === objectNotFound))

      /** `name` suffixed " (2)" … " (9)" until QuickBooks takes one; each try has its own request id. */
      const withSuffix = (
        item: OutboundItem,
        name: string,
        firstReason: string,
        attempt: (displayName: string, key: string) => Effect.Effect<Judged, ProviderCallFailed | E>
      ) =>
        Effect.gen(function* () {
          let reason = firstReason
          for (let n = 2; n <= lastSuffix; n++) {
            const answer = yield* attempt(`${name} (${n})`, `${item.idempotencyKey}-${n}`)
            if (answer._tag === "data" || answer.code !== duplicateName) return answer
            reason = answer.reason
          }
          return { _tag: "refused", code: duplicateName, reason } satisfies Judged
        })

      /**
       * Duplicate DisplayName (6240) on a customer create, resolved as the default mapping says: the active customer
       * holding the name is this customer when its email is ours or it has none, so it is linked (updated with our
       * fields, outcome `updated`); otherwise the name is suffixed (" (2)", " (3)" … " (9)") and created. Each call
       * has its own request id derived from the key, so a replay takes the same path and creates nothing twice.
       * (In QuickBooks a vendor or employee can hold the name too; no customer is found then, and it is suffixed.)
       */
      const resolveDuplicate = (item: OutboundItem, fields: QuickBooksObject, firstReason: string) =>
        Effect.gen(function* () {
          const name = String(fields.DisplayName ?? "")
          const found = yield* query("query_customer", `select * from Customer where DisplayName = ${quoted(name)}`)
          if (found._tag === "refused") return refused(item, found.reason)
          const holders = ((found.body.QueryResponse as Record<string, unknown> | undefined)?.Customer ??
            []) as ReadonlyArray<QuickBooksObject>
          const holder = holders[0]
          const holderEmail = holder === undefined ? "" : emailOf(holder)
          if (holder !== undefined && (holderEmail === "" || holderEmail === emailOf(fields))) {
            const linked = yield* update(`${item.idempotencyKey}-l`, String(holder.Id), holder.SyncToken, fields)
            return linked._tag === "data" ? done(item, "updated", objectOf(linked.body)) : refused(item, linked.reason)
          }
          const answer = yield* withSuffix(item, name, firstReason, (displayName, key) =>
            post(key, { ...fields, DisplayName: displayName })
          )
          return answer._tag === "data" ? done(item, "created", objectOf(answer.body)) : refused(item, answer.reason)
        })

      const create = (item: OutboundItem, fields: QuickBooksObject, key: string) =>
        Effect.gen(function* () {
          let body = fields
          if (type === "product" && body.IncomeAccountRef === undefined) {
            const account = yield* income
            if (account === null) return refused(item, "the QuickBooks company has no Income account to book items to")
            if ("_tag" in account) return refused(item, account.reason)
            body = { ...body, IncomeAccountRef: account }
          }
          const answer = yield* post(key, body)
          if (answer._tag === "data") return done(item, "created", objectOf(answer.body))
          if (type === "customer" && answer.code === duplicateName)
            return yield* resolveDuplicate(item, body, answer.reason)
          return refused(item, answer.reason)
        })

      /**
       * A customer's DisplayName as an update should send it: the suffixed name the object already has when the
       * mapped name is the one it was suffixed from (sending the plain name again would only meet the 6240 again).
       */
      const keepSuffix = (link: ExternalLink, fields: QuickBooksObject): QuickBooksObject => {
        const current = link.raw.DisplayName
        const mapped = fields.DisplayName
        if (type !== "customer" || typeof current !== "string" || typeof mapped !== "string") return fields
        const rest = current.startsWith(mapped) ? current.slice(mapped.length) : ""
        return /^ \(\d+\)$/.test(rest) ? { ...fields, DisplayName: current } : fields
      }

      const change = (item: OutboundItem, link: ExternalLink, mapped: QuickBooksObject) =>
        Effect.gen(function* () {
          const fields = keepSuffix(link, mapped)
          let answer = yield* update(item.idempotencyKey, link.externalId, link.raw.SyncToken, fields)
          // Renamed to a DisplayName another customer holds: suffixed, as a create would be.
          if (answer._tag === "refused" && answer.code === duplicateName && type === "customer")
            answer = yield* withSuffix(item, String(fields.DisplayName), answer.reason, (displayName, key) =>
              update(key, link.externalId, link.raw.SyncToken, { ...fields, DisplayName: displayName })
            )
          if (answer._tag === "data") return done(item, "updated", objectOf(answer.body))
          // Deleted at QuickBooks (or never in this company): push it again, as a new object.
          if (answer.code === objectNotFound && (yield* vanished(link.externalId)))
            return yield* create(item, mapped, `${item.idempotencyKey}-c`)
          return refused(item, answer.reason)
        })

      const archive = (item: OutboundItem, link: ExternalLink) =>
        Effect.gen(function* () {
          const id = link.externalId
          const key = item.idempotencyKey
          if (nameLists.has(type)) {
            const answer = yield* update(key, id, link.raw.SyncToken, { Active: false })
            if (answer._tag === "data") return done(item, "archived", objectOf(answer.body))
            return refused(item, answer.reason)
          }
          let answer = yield* post(key, { Id: id, SyncToken: link.raw.SyncToken }, "delete")
          if (answer._tag === "refused" && answer.code === staleObject) {
            const fresh = yield* read(id)
            answer =
              fresh._tag === "refused"
                ? fresh
                : yield* post(`${key}-r`, { Id: id, SyncToken: objectOf(fresh.body).SyncToken }, "delete")
          }
          if (answer._tag === "data") return done(item, "archived", objectOf(answer.body))
          // Already deleted at QuickBooks: what this deletion wanted.
          if (answer.code === objectNotFound && (yield* vanished(id)))
            return done(item, "archived", { domain: "QBO", status: "Deleted", Id: id })
          return refused(item, answer.reason)
        })

      /**
       * A SalesReceipt's or Invoice's references turned from platform ids into QuickBooks ids, and each sales line's
       * Amount; a reference never pushed is this item's refusal (a string).
       */
      const resolveReferences = (fields: QuickBooksObject) =>
        Effect.gen(function* () {
          // A reference without a value (a receipt with no customer, a line with no product) is left out.
          const { CustomerRef: customerRef, ...rest } = fields
          const customerId = refOf(customerRef)
          let resolved: QuickBooksObject = rest
          if (customerId !== undefined) {
            const value = yield* request.linkOf("customer", customerId)
            if (value === null) return `customer ${customerId} has not been pushed yet`
            resolved = { ...rest, CustomerRef: { ...(customerRef as object), value } }
          }
          if (!Array.isArray(fields.Line)) return resolved
          const exponent = exponentOf(refOf(fields.CurrencyRef) ?? "USD") ?? 2
          const lines: Array<QuickBooksObject> = []
          for (const line of fields.Line as ReadonlyArray<QuickBooksObject>) {
            const { ItemRef: itemRef, ...detail } = (line.SalesItemLineDetail ?? {}) as QuickBooksObject
            const productId = refOf(itemRef)
            let resolvedRef: QuickBooksObject | null = null
            if (productId !== undefined) {
              const value = yield* request.linkOf("product", productId)
              if (value === null) return `product ${productId} has not been pushed yet`
              resolvedRef = { ...(itemRef as object), value }
            }
            const qty = typeof detail.Qty === "number" ? detail.Qty : 1
            const amount =
              typeof line.Amount === "number" || typeof detail.UnitPrice !== "number"
                ? line.Amount
                : Math.round(qty * detail.UnitPrice * 10 ** exponent) / 10 ** exponent
            lines.push({
              ...line,
              ...(amount === undefined ? {} : { Amount: amount }),
              SalesItemLineDetail: { ...detail, ...(resolvedRef === null ? {} : { ItemRef: resolvedRef }) }
            })
          }
          return { ...resolved, Line: lines }
        })

      const push = (item: OutboundItem) =>
        Effect.gen(function* () {
          if (item.deleted) {
            // The engine sends a deletion only for a record it pushed; without a link there is nothing to archive.
            if (item.link === null) return refused(item, "a deletion of a record never pushed to QuickBooks")
            return yield* archive(item, item.link)
          }
          if (item.fields === null) return refused(item, "no mapped fields to push")
          const fields = type === "order" || type === "invoice" ? yield* resolveReferences(item.fields) : item.fields
          if (typeof fields === "string") return refused(item, fields)
          return item.link === null
            ? yield* create(item, fields, item.idempotencyKey)
            : yield* change(item, item.link, fields)
        })

      return yield* Effect.forEach(request.items, push)
    })

  return {
    provider: "quickbooks",
    batchSize: () => itemsPerWrite,
    write
  } satisfies ProviderWriter
})
