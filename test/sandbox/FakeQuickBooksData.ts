import type { Reply } from "./FakeHttp.ts"

/**
 * QuickBooks Online's read endpoints for sync, per company (realm), on Intuit's wire:
 * - `GET /v3/company/{realm}/query?query=select * from <Entity> ORDERBY Id STARTPOSITION n MAXRESULTS m` →
 *   `{QueryResponse:{<Entity>:[…], startPosition, maxResults}, time}` (`QueryResponse:{}` past the end; 1-based
 *   positions, at most 1,000 per page). Like Intuit, a query reads active objects only: a Customer or Item made
 *   inactive (what "delete" is for name-list objects) drops out, and deleted transactions are gone.
 * - `GET /v3/company/{realm}/cdc?entities=A,B&changedSince=<ISO 8601>` →
 *   `{CDCResponse:[{QueryResponse:[{<Entity>:[…], startPosition, maxResults}, …]}], time}`: everything changed at
 *   or after `changedSince` (at most 30 days back), oldest change first as Intuit's captures show, at most 1,000
 *   objects across the requested entities. An inactive Customer/Item comes whole with `Active: false`; a deleted
 *   transaction comes as `{domain, status: "Deleted", Id, MetaData: {LastUpdatedTime}}`.
 * - Every `/v3/company/{realm}/…` request is recorded (`dataRequests`), may be refused by the per-company budget
 *   (`setRateLimit`: 429 with Intuit's XML ThrottleExceeded fault and a Retry-After) or by an injected failure.
 * Timestamps have Intuit's second resolution and a Pacific offset (`2026-01-01T00:00:00-07:00`).
 */
export type FakeQuickBooksEntityType = "customer" | "product" | "order" | "invoice" | "payment"

const entityNames: Record<FakeQuickBooksEntityType, string> = {
  customer: "Customer",
  product: "Item",
  order: "SalesReceipt",
  invoice: "Invoice",
  payment: "Payment"
}
const typeOfEntity = new Map(Object.entries(entityNames).map(([type, name]) => [name.toLowerCase(), type]))
/** Name-list objects are never deleted in QuickBooks, only made inactive. */
const nameList = new Set<FakeQuickBooksEntityType>(["customer", "product"])

export type QuickBooksObject = Record<string, unknown> & { readonly Id: string }

interface Company {
  nextId: number
  readonly entities: Map<FakeQuickBooksEntityType, Map<string, Entry>>
  /** Live objects in Id order, rebuilt after a change. */
  readonly ordered: Map<FakeQuickBooksEntityType, Array<Entry>>
  readonly requests: Array<{ readonly at: number; readonly path: string }>
  limit: { readonly limit: number; readonly windowMs: number } | null
}

export interface FakeQuickBooksInjection {
  /** 429, 5xx, 403, 404, 400…; 200 answers OK with a `Fault` in the body, as Intuit sometimes does. */
  readonly status: number
  /** Sent as Retry-After (Intuit sends none: clients are told to wait 60 s). */
  readonly retryAfterSeconds?: number
  /** How many requests fail; unset: until `clearInjections()`. */
  readonly times?: number
}

const cdcMaxObjects = 1000
const queryMaxResults = 1000
const cdcLookBackMs = 30 * 86_400_000
const pacificOffsetMs = -7 * 3_600_000

/** Intuit's timestamp form: seconds, with the company's offset (fixed here at -07:00). */
export const quickBooksTime = (ms: number) => `${new Date(ms + pacificOffsetMs).toISOString().slice(0, 19)}-07:00`
/** A response's own `time` carries milliseconds (`2020-09-29T06:04:49.352-07:00`). */
const responseTime = (ms: number) => `${new Date(ms + pacificOffsetMs).toISOString().slice(0, 23)}-07:00`
const day = (ms: number) => new Date(ms + pacificOffsetMs).toISOString().slice(0, 10)
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000

const givenNames = ["Peter", "Dylan", "Kookies", "Amy", "Bill", "Sonnenschein", "Rondonuwu", "Jeff", "John", "Mark"]
const familyNames = ["Dukes", "Sollfrank", "Lauterbach", "Cool", "Lucchini", "Chin", "Diego", "Gevelber", "Melton"]
const shows = ["General Admission", "Balcony Seat", "Orchestra Seat", "Season Pass", "VIP Package", "Matinee"]
const usd = { value: "USD", name: "United States Dollar" }
const money = (n: number) => Math.round(n * 100) / 100

const metaData = (createdMs: number, updatedMs: number) => {
  const created = quickBooksTime(createdMs)
  return { CreateTime: created, LastUpdatedTime: updatedMs === createdMs ? created : quickBooksTime(updatedMs) }
}

const salesLines = (n: number) => {
  const qty = (n % 4) + 1
  const unitPrice = money(12.5 + (n % 40))
  const amount = money(qty * unitPrice)
  const itemId = String((n % 20) + 1)
  return {
    amount,
    Line: [
      {
        Id: "1",
        LineNum: 1,
        Description: `${shows[n % shows.length]} ticket`,
        Amount: amount,
        DetailType: "SalesItemLineDetail",
        SalesItemLineDetail: {
          ItemRef: { value: itemId, name: `${shows[n % shows.length]} ${itemId}` },
          UnitPrice: unitPrice,
          Qty: qty,
          TaxCodeRef: { value: "NON" }
        }
      },
      { Amount: amount, DetailType: "SubTotalLineDetail", SubTotalLineDetail: {} }
    ]
  }
}

/** A realistic object of each entity, shaped like Intuit's sandbox captures (test/fixtures/sync/quickbooks/). */
const generators: Record<FakeQuickBooksEntityType, (id: string, n: number, createdMs: number) => QuickBooksObject> = {
  customer: (Id, n, createdMs) => {
    const given = givenNames[n % givenNames.length] ?? "Pat"
    const family = familyNames[n % familyNames.length] ?? "Doe"
    const display = `${given} ${family} ${Id}`
    const address = {
      Id: Id,
      Line1: `${100 + (n % 900)} Court St.`,
      City: "Tucson",
      CountrySubDivisionCode: "AZ",
      PostalCode: "85719"
    }
    return {
      Taxable: false,
      BillAddr: address,
      ShipAddr: address,
      Job: false,
      BillWithParent: false,
      Balance: 0,
      BalanceWithJobs: 0,
      CurrencyRef: usd,
      PreferredDeliveryMethod: "Print",
      domain: "QBO",
      sparse: false,
      Id,
      SyncToken: "0",
      MetaData: metaData(createdMs, createdMs),
      GivenName: given,
      FamilyName: family,
      FullyQualifiedName: display,
      DisplayName: display,
      PrintOnCheckName: display,
      Active: true,
      PrimaryPhone: { FreeFormNumber: `(520) 555-${String(1000 + (n % 9000)).padStart(4, "0")}` },
      PrimaryEmailAddr: { Address: `${given}.${family}.${Id}@example.com` }
    }
  },
  product: (Id, n, createdMs) => {
    const name = `${shows[n % shows.length]} ${Id}`
    return {
      Name: name,
      Description: `${shows[n % shows.length]} ticket`,
      Active: true,
      FullyQualifiedName: name,
      Taxable: false,
      UnitPrice: money(12.5 + (n % 40)),
      Type: "Service",
      IncomeAccountRef: { value: "79", name: "Sales of Product Income" },
      PurchaseCost: 0,
      TrackQtyOnHand: false,
      domain: "QBO",
      sparse: false,
      Id,
      SyncToken: "0",
      MetaData: metaData(createdMs, createdMs)
    }
  },
  order: (Id, n, createdMs) => {
    const { amount, Line } = salesLines(n)
    return {
      domain: "QBO",
      sparse: false,
      Id,
      SyncToken: "0",
      MetaData: metaData(createdMs, createdMs),
      CustomField: [{ DefinitionId: "1", Name: "Crew #", Type: "StringType" }],
      DocNumber: String(1000 + n),
      TxnDate: day(createdMs),
      CurrencyRef: usd,
      Line,
      TxnTaxDetail: { TotalTax: 0 },
      CustomerRef: { value: String((n % 50) + 1), name: `Customer ${(n % 50) + 1}` },
      TotalAmt: amount,
      ApplyTaxAfterDiscount: false,
      PrintStatus: "NotSet",
      EmailStatus: "NotSet",
      Balance: 0,
      DepositToAccountRef: { value: "4", name: "Undeposited Funds" }
    }
  },
  invoice: (Id, n, createdMs) => {
    const { amount, Line } = salesLines(n)
    return {
      AllowIPNPayment: false,
      AllowOnlinePayment: false,
      AllowOnlineCreditCardPayment: false,
      AllowOnlineACHPayment: false,
      domain: "QBO",
      sparse: false,
      Id,
      SyncToken: "0",
      MetaData: metaData(createdMs, createdMs),
      CustomField: [{ DefinitionId: "1", Name: "Crew #", Type: "StringType" }],
      DocNumber: String(1000 + n),
      TxnDate: day(createdMs),
      CurrencyRef: usd,
      LinkedTxn: [],
      Line,
      TxnTaxDetail: { TotalTax: 0 },
      CustomerRef: { value: String((n % 50) + 1), name: `Customer ${(n % 50) + 1}` },
      SalesTermRef: { value: "3" },
      DueDate: day(createdMs + 30 * 86_400_000),
      TotalAmt: amount,
      ApplyTaxAfterDiscount: false,
      PrintStatus: "NeedToPrint",
      EmailStatus: "NotSet",
      Balance: amount
    }
  },
  payment: (Id, n, createdMs) => {
    const amount = money(25 + (n % 200))
    return {
      CustomerRef: { value: String((n % 50) + 1), name: `Customer ${(n % 50) + 1}` },
      DepositToAccountRef: { value: "4" },
      TotalAmt: amount,
      UnappliedAmt: 0,
      ProcessPayment: false,
      domain: "QBO",
      sparse: false,
      Id,
      SyncToken: "0",
      MetaData: metaData(createdMs, createdMs),
      TxnDate: day(createdMs),
      CurrencyRef: usd,
      Line: [{ Amount: amount, LinkedTxn: [{ TxnId: String(n + 1), TxnType: "Invoice" }] }]
    }
  }
}

/** One object of a company; a seeded one is only built when first read, so seeding 100,000 stays cheap. */
class Entry {
  readonly type: FakeQuickBooksEntityType
  readonly id: string
  readonly seed: number
  readonly createdMs: number
  /** LastUpdatedTime in ms (whole seconds). */
  updatedMs: number
  /** In the query's answer: not deleted, not inactive. */
  live: boolean
  #object: QuickBooksObject | null
  constructor(
    type: FakeQuickBooksEntityType,
    id: string,
    seed: number,
    createdMs: number,
    live: boolean,
    object: QuickBooksObject | null = null
  ) {
    this.type = type
    this.id = id
    this.seed = seed
    this.createdMs = createdMs
    this.updatedMs = createdMs
    this.live = live
    this.#object = object
  }
  get object(): QuickBooksObject {
    this.#object ??= generators[this.type](this.id, this.seed, this.createdMs)
    return this.#object
  }
  set object(object: QuickBooksObject) {
    this.#object = object
  }
}

const throttleXml = (now: number) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<IntuitResponse time="${quickBooksTime(now)}" xmlns="http://schema.intuit.com/finance/v3">
  <Fault type="SERVICE">
    <Error code="3001">
      <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>
      <Detail>The request limit was reached.  Try again later</Detail>
    </Error>
  </Fault>
</IntuitResponse>`

const fault = (type: string, code: string, message: string, detail: string, now: number) => ({
  Fault: { Error: [{ Message: message, Detail: detail, code }], type },
  time: quickBooksTime(now)
})

/** Intuit's fault for each injected status (403: the app is not authorized for the company). */
const injectedFault = (status: number, now: number) => {
  if (status === 403)
    return fault(
      "SecurityFault",
      "3100",
      "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
      "",
      now
    )
  if (status === 404) return fault("SystemFault", "610", "Object Not Found", "Object Not Found", now)
  if (status >= 500)
    return fault("SERVICE", "10000", "An application error has occurred while processing your request", "", now)
  return fault("ValidationFault", "2500", "Invalid Reference Id", "Something you're using has been deleted", now)
}

export const fakeQuickBooksData = (
  json: (status: number, body: unknown, headers?: Record<string, string>) => Reply,
  now: () => number
) => {
  const companies = new Map<string, Company>()
  const injections: Array<FakeQuickBooksInjection & { remaining: number }> = []
  let delayMs = 0

  const company = (realm: string): Company => {
    let found = companies.get(realm)
    if (found === undefined) {
      found = { nextId: 1, entities: new Map(), ordered: new Map(), requests: [], limit: null }
      companies.set(realm, found)
    }
    return found
  }
  const entries = (c: Company, type: FakeQuickBooksEntityType) => {
    let found = c.entities.get(type)
    if (found === undefined) {
      found = new Map()
      c.entities.set(type, found)
    }
    return found
  }
  const live = (c: Company, type: FakeQuickBooksEntityType): Array<Entry> => {
    let found = c.ordered.get(type)
    if (found === undefined) {
      // Ids are issued in increasing order, so insertion order is Id order.
      found = [...entries(c, type).values()].filter((e) => e.live)
      c.ordered.set(type, found)
    }
    return found
  }

  const invalidQuery = (detail: string) =>
    json(400, fault("ValidationFault", "4000", "Error parsing query", `QueryParserError: ${detail}`, now()))

  const query = (realm: string, url: URL) => {
    const statement = url.searchParams.get("query") ?? ""
    const parsed =
      /^\s*select\s+\*\s+from\s+(\w+)(?:\s+orderby\s+Id)?(?:\s+startposition\s+(\d+))?(?:\s+maxresults\s+(\d+))?\s*$/i.exec(
        statement
      )
    if (parsed === null) return invalidQuery(`Encountered unexpected input in "${statement}"`)
    const type = typeOfEntity.get((parsed[1] ?? "").toLowerCase()) as FakeQuickBooksEntityType | undefined
    if (type === undefined)
      return json(
        400,
        fault(
          "ValidationFault",
          "4001",
          "Invalid query",
          `QueryValidationError: invalid context declaration: ${parsed[1]}`,
          now()
        )
      )
    const start = Math.max(1, Number(parsed[2] ?? "1"))
    const max = Math.min(queryMaxResults, Number(parsed[3] ?? "100"))
    const page = live(company(realm), type)
      .slice(start - 1, start - 1 + max)
      .map((e) => e.object)
    const name = entityNames[type]
    return json(200, {
      QueryResponse: page.length === 0 ? {} : { [name]: page, startPosition: start, maxResults: page.length },
      time: responseTime(now())
    })
  }

  const cdc = (realm: string, url: URL) => {
    const since = Date.parse(url.searchParams.get("changedSince") ?? "")
    const names = (url.searchParams.get("entities") ?? "").split(",").filter((s) => s !== "")
    const types = names.map((n) => typeOfEntity.get(n.toLowerCase()) as FakeQuickBooksEntityType | undefined)
    if (Number.isNaN(since) || names.length === 0 || types.includes(undefined))
      return json(
        400,
        fault("ValidationFault", "2010", "Request has invalid or unsupported property", "entities, changedSince", now())
      )
    if (since < now() - cdcLookBackMs)
      return json(
        400,
        fault(
          "ValidationFault",
          "2010",
          "Request has invalid or unsupported property",
          "changedSince must be within the last 30 days",
          now()
        )
      )
    const c = company(realm)
    const changed = (types as Array<FakeQuickBooksEntityType>)
      .flatMap((type) =>
        [...entries(c, type).values()].filter((e) => e.updatedMs >= since).map((e) => ({ type, entry: e }))
      )
      .sort((a, b) => a.entry.updatedMs - b.entry.updatedMs || Number(a.entry.id) - Number(b.entry.id))
      .slice(0, cdcMaxObjects)
    return json(200, {
      CDCResponse: [
        {
          QueryResponse: (types as Array<FakeQuickBooksEntityType>).map((type) => {
            const objects = changed.filter((x) => x.type === type).map((x) => x.entry.object)
            return objects.length === 0
              ? {}
              : { [entityNames[type]]: objects, startPosition: 1, maxResults: objects.length }
          })
        }
      ],
      time: responseTime(now())
    })
  }

  /** The budget and injected failures, checked on every company request before its token. */
  const gate = (realm: string, url: URL): Reply | undefined => {
    const c = company(realm)
    const at = now()
    // Refused requests count too: a client that keeps knocking stays over the budget.
    const limit = c.limit
    const inWindow = limit === null ? [] : c.requests.filter((r) => r.at > at - limit.windowMs)
    c.requests.push({ at, path: `${url.pathname}${url.search}` })
    const injected = injections[0]
    if (injected !== undefined) {
      injected.remaining -= 1
      if (injected.remaining <= 0) injections.shift()
      const headers: Record<string, string> =
        injected.retryAfterSeconds === undefined ? {} : { "retry-after": String(injected.retryAfterSeconds) }
      if (injected.status === 429)
        return { status: 429, headers: { "content-type": "application/xml", ...headers }, body: throttleXml(at) }
      return json(injected.status, injectedFault(injected.status, at), headers)
    }
    const oldest = inWindow[0]
    if (limit !== null && oldest !== undefined && inWindow.length >= limit.limit) {
      const wait = Math.max(1, Math.ceil((oldest.at + limit.windowMs - at) / 1000))
      return {
        status: 429,
        headers: { "content-type": "application/xml", "retry-after": String(wait) },
        body: throttleXml(at)
      }
    }
    return undefined
  }

  const touch = (c: Company, type: FakeQuickBooksEntityType) => c.ordered.delete(type)

  return {
    gate,
    /** The data endpoint's answer, or undefined when the path is not one. */
    respond: (method: string | undefined, realm: string, url: URL, rest: string): Reply | undefined => {
      if (method !== "GET") return undefined
      if (rest === "query") return query(realm, url)
      if (rest === "cdc") return cdc(realm, url)
      return undefined
    },
    delay: async (url: URL) => {
      if (delayMs > 0 && url.pathname.startsWith("/v3/company/"))
        await new Promise((resolve) => setTimeout(resolve, delayMs))
    },
    controls: {
      /**
       * `count` new objects of an entity type in the company, created (and last updated) one second apart ending
       * `agoMs` before the fake's now (default 20 days ago, inside CDC's 30-day look-back).
       */
      seed: (realm: string, entityType: FakeQuickBooksEntityType, count: number, agoMs = 20 * 86_400_000) => {
        const c = company(realm)
        const target = entries(c, entityType)
        const first = wholeSecond(now() - agoMs) - (count - 1) * 1000
        for (let i = 0; i < count; i++) {
          const id = String(c.nextId++)
          const createdMs = first + i * 1000
          target.set(id, new Entry(entityType, id, i, createdMs, true))
        }
        touch(c, entityType)
      },
      /**
       * Creates an object (no `Id`, or an unknown one) or updates one (fields merged, SyncToken bumped), stamped with
       * the fake's now; returns it as QuickBooks now holds it.
       */
      upsertRecord: (
        realm: string,
        entityType: FakeQuickBooksEntityType,
        fields: Record<string, unknown> & { readonly Id?: string } = {}
      ): QuickBooksObject => {
        const c = company(realm)
        const target = entries(c, entityType)
        const at = wholeSecond(now())
        const existing = fields.Id === undefined ? undefined : target.get(fields.Id)
        if (existing !== undefined && existing.object.status !== "Deleted") {
          existing.object = {
            ...existing.object,
            ...fields,
            Id: existing.object.Id,
            SyncToken: String(Number(existing.object.SyncToken ?? 0) + 1),
            MetaData: metaData(existing.createdMs, at)
          }
          existing.updatedMs = at
          existing.live = existing.object.Active !== false
          touch(c, entityType)
          return existing.object
        }
        const id = String(c.nextId++)
        const object: QuickBooksObject = { ...generators[entityType](id, Number(id), at), ...fields, Id: id }
        target.set(id, new Entry(entityType, id, Number(id), at, object.Active !== false, object))
        touch(c, entityType)
        return object
      },
      /**
       * What deleting does in QuickBooks: a Customer or Item is made inactive (`Active: false`, still read by CDC);
       * a transaction is deleted and CDC reports `{status: "Deleted", Id, MetaData: {LastUpdatedTime}}`.
       */
      deleteRecord: (realm: string, entityType: FakeQuickBooksEntityType, id: string) => {
        const c = company(realm)
        const entry = entries(c, entityType).get(id)
        if (entry === undefined || !entry.live) throw new Error(`no live ${entityNames[entityType]} ${id} in ${realm}`)
        const at = wholeSecond(now())
        entry.object = nameList.has(entityType)
          ? {
              ...entry.object,
              Active: false,
              SyncToken: String(Number(entry.object.SyncToken ?? 0) + 1),
              MetaData: metaData(entry.createdMs, at)
            }
          : { domain: "QBO", status: "Deleted", Id: id, MetaData: { LastUpdatedTime: quickBooksTime(at) } }
        entry.updatedMs = at
        entry.live = false
        touch(c, entityType)
      },
      /** The company's live objects of a type (what a full read returns), in Id order. */
      records: (realm: string, entityType: FakeQuickBooksEntityType): ReadonlyArray<QuickBooksObject> => [
        ...live(company(realm), entityType).map((e) => e.object)
      ],
      /** The next requests to any company fail this way, in order (`times` unset: until cleared). */
      inject: (injection: FakeQuickBooksInjection) => {
        injections.push({ ...injection, remaining: injection.times ?? Number.POSITIVE_INFINITY })
      },
      clearInjections: () => {
        injections.length = 0
      },
      /** Every company request waits this long before its answer. */
      setDataDelay: (ms: number) => {
        delayMs = ms
      },
      /** A sliding-window budget per company (Intuit: 500 per minute); over it: 429 ThrottleExceeded. */
      setRateLimit: (realm: string, limit: { readonly limit: number; readonly windowMs: number } | null) => {
        company(realm).limit = limit
      },
      /** Every request to the company's API, answered or refused, with the fake's clock. */
      dataRequests: (realm: string): ReadonlyArray<{ readonly at: number; readonly path: string }> => [
        ...company(realm).requests
      ]
    }
  }
}
