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
  /** The first answer to each `requestid` (Intuit: unique per company; a repeat returns the original response). */
  readonly answered: Map<string, Reply>
  /** Objects created through the write API, per type. */
  readonly creations: Map<FakeQuickBooksEntityType, number>
  /** The chart of accounts items take their IncomeAccountRef from. */
  accounts: ReadonlyArray<QuickBooksObject>
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

/** The value at a dotted path (`PrimaryEmailAddr.Address`) of an object. */
const valueAt = (object: unknown, path: string): unknown =>
  path
    .split(".")
    .reduce<unknown>(
      (at, key) => (typeof at === "object" && at !== null ? (at as Record<string, unknown>)[key] : undefined),
      object
    )

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

const account = (Id: string, Name: string, AccountType: string, AccountSubType: string, createdMs: number) => ({
  Name,
  SubAccount: false,
  FullyQualifiedName: Name,
  Active: true,
  Classification: AccountType === "Income" ? "Revenue" : "Asset",
  AccountType,
  AccountSubType,
  CurrentBalance: 0,
  CurrentBalanceWithSubAccounts: 0,
  CurrencyRef: usd,
  domain: "QBO",
  sparse: false,
  Id,
  SyncToken: "0",
  MetaData: metaData(createdMs, createdMs)
})

/** The sample company's accounts a sales form touches: two income accounts, Undeposited Funds, a bank account. */
const defaultAccounts = (ms: number): ReadonlyArray<QuickBooksObject> => {
  const at = wholeSecond(ms) - 90 * 86_400_000
  return [
    account("1", "Services", "Income", "ServiceFeeIncome", at),
    account("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds", at),
    account("35", "Checking", "Bank", "Checking", at),
    account("79", "Sales of Product Income", "Income", "SalesOfProductIncome", at)
  ]
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
      found = {
        nextId: 1,
        entities: new Map(),
        ordered: new Map(),
        requests: [],
        limit: null,
        answered: new Map(),
        creations: new Map(),
        accounts: defaultAccounts(now())
      }
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
      /^\s*select\s+\*\s+from\s+(\w+)(?:\s+where\s+([\w.]+)\s*=\s*'((?:[^'\\]|\\.)*)')?(?:\s+orderby\s+Id)?(?:\s+startposition\s+(\d+))?(?:\s+maxresults\s+(\d+))?\s*$/i.exec(
        statement
      )
    if (parsed === null) return invalidQuery(`Encountered unexpected input in "${statement}"`)
    const from = (parsed[1] ?? "").toLowerCase()
    const type = typeOfEntity.get(from) as FakeQuickBooksEntityType | undefined
    if (type === undefined && from !== "account")
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
    const start = Math.max(1, Number(parsed[4] ?? "1"))
    const max = Math.min(queryMaxResults, Number(parsed[5] ?? "100"))
    const c = company(realm)
    const where = parsed[2]
    // Intuit compares strings without regard to case; `\'` escapes a quote.
    const wanted = (parsed[3] ?? "").replace(/\\(.)/g, "$1").toLowerCase()
    const matches = (o: QuickBooksObject) =>
      where === undefined || String(valueAt(o, where) ?? "").toLowerCase() === wanted
    const candidates = (): ReadonlyArray<QuickBooksObject> =>
      type === undefined ? c.accounts.filter((a) => a.Active !== false) : live(c, type).map((e) => e.object)
    // Without a filter only the page's seeded objects are built.
    const page =
      type !== undefined && where === undefined
        ? live(c, type)
            .slice(start - 1, start - 1 + max)
            .map((e) => e.object)
        : candidates()
            .filter(matches)
            .slice(start - 1, start - 1 + max)
    const name = type === undefined ? "Account" : entityNames[type]
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

  // ---- Writes: POST /{entity}[?requestid=…][&operation=delete], GET /{entity}/{id} ----

  const validation = (code: string, message: string, detail: string) =>
    json(400, fault("ValidationFault", code, message, detail, now()))
  const missing = (parameter: string) =>
    validation(
      "2020",
      "Required param missing, need to supply the required value for the API",
      `Required parameter ${parameter} is missing in the request`
    )
  const invalidReference = (what: string, id: unknown) =>
    validation("2500", "Invalid Reference Id", `Invalid Reference Id : ${what} element id ${String(id)} not found`)
  const notFound = () =>
    validation(
      "610",
      "Object Not Found",
      "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees."
    )
  const duplicateName = () =>
    validation(
      "6240",
      "Duplicate Name Exists Error",
      "The name supplied already exists. : Another customer, vendor or employee is already using this \nname. Please use a different name."
    )
  const staleObject = () =>
    validation(
      "5010",
      "Stale Object Error",
      "Stale Object Error : You and root were working on this at the same time. root finished before you did, so your work was not saved."
    )

  const sameName = (a: unknown, b: unknown) =>
    typeof a === "string" && typeof b === "string" && a.trim().toLowerCase() === b.trim().toLowerCase()
  /** Another active object of the type holding `name` in `field`: names are unique among active ones. */
  const nameTaken = (c: Company, type: FakeQuickBooksEntityType, field: string, name: unknown, self: string | null) =>
    live(c, type).some((e) => e.id !== self && sameName(e.object[field], name))
  const refValue = (ref: unknown): unknown => (ref as { value?: unknown } | undefined)?.value

  type Shaped = { readonly object: Record<string, unknown> } | { readonly refusal: Reply }

  /** A customer as QuickBooks completes it; DisplayName defaults to the name parts and is unique among active ones. */
  const customer = (c: Company, input: Record<string, unknown>, self: string | null): Shaped => {
    const parts = [input.Title, input.GivenName, input.MiddleName, input.FamilyName, input.Suffix].filter(
      (p): p is string => typeof p === "string" && p.trim() !== ""
    )
    const display =
      typeof input.DisplayName === "string" && input.DisplayName.trim() !== ""
        ? input.DisplayName
        : parts.length > 0
          ? parts.join(" ")
          : input.CompanyName
    if (typeof display !== "string" || display.trim() === "") return { refusal: missing("DisplayName") }
    const active = input.Active !== false
    if (active && nameTaken(c, "customer", "DisplayName", display, self)) return { refusal: duplicateName() }
    return {
      object: {
        Taxable: false,
        Job: false,
        BillWithParent: false,
        Balance: 0,
        BalanceWithJobs: 0,
        CurrencyRef: usd,
        PreferredDeliveryMethod: "Print",
        ...input,
        DisplayName: display,
        FullyQualifiedName: display,
        PrintOnCheckName: input.PrintOnCheckName ?? display,
        Active: active
      }
    }
  }

  /** A Service or NonInventory item: a Name unique among active items and an Income account. */
  const item = (c: Company, input: Record<string, unknown>, self: string | null): Shaped => {
    if (typeof input.Name !== "string" || input.Name.trim() === "") return { refusal: missing("Name") }
    const type = input.Type ?? "NonInventory"
    if (type !== "Service" && type !== "NonInventory")
      return {
        refusal: validation("2010", "Request has invalid or unsupported property", `Property Name:Type ${String(type)}`)
      }
    if (input.IncomeAccountRef === undefined) return { refusal: missing("IncomeAccountRef") }
    const income = c.accounts.find((a) => a.Id === String(refValue(input.IncomeAccountRef)) && a.Active !== false)
    if (income === undefined) return { refusal: invalidReference("Accounts", refValue(input.IncomeAccountRef)) }
    const active = input.Active !== false
    if (active && nameTaken(c, "product", "Name", input.Name, self)) return { refusal: duplicateName() }
    return {
      object: {
        Taxable: false,
        UnitPrice: 0,
        PurchaseCost: 0,
        TrackQtyOnHand: false,
        ...input,
        Type: type,
        FullyQualifiedName: input.Name,
        IncomeAccountRef: { value: income.Id, name: income.Name },
        Active: active
      }
    }
  }

  const cents = (n: number) => Math.round(n * 100) / 100

  /**
   * A SalesReceipt or Invoice: sales lines with their Amount (= Qty × UnitPrice), active items and customer; the
   * subtotal line, TotalAmt, DocNumber and dates completed as QuickBooks does.
   */
  const transaction = (c: Company, type: "order" | "invoice", input: Record<string, unknown>, id: string): Shaped => {
    const given = Array.isArray(input.Line) ? (input.Line as ReadonlyArray<Record<string, unknown>>) : []
    const sales = given.filter((l) => l.DetailType !== "SubTotalLineDetail")
    if (sales.length === 0) return { refusal: missing("Line") }
    const lines: Array<Record<string, unknown>> = []
    for (const [i, line] of sales.entries()) {
      if (line.DetailType !== "SalesItemLineDetail")
        return {
          refusal: validation(
            "2010",
            "Request has invalid or unsupported property",
            `Property Name:DetailType ${String(line.DetailType)}`
          )
        }
      if (typeof line.Amount !== "number") return { refusal: missing("Line.Amount") }
      const detail = (line.SalesItemLineDetail ?? {}) as Record<string, unknown>
      const itemId = refValue(detail.ItemRef)
      const itemEntry = itemId === undefined ? undefined : entries(c, "product").get(String(itemId))
      if (itemId !== undefined && itemEntry === undefined) return { refusal: invalidReference("Items", itemId) }
      if (itemEntry !== undefined && !itemEntry.live) return { refusal: notFound() }
      const { Qty, UnitPrice } = detail
      if (typeof Qty === "number" && typeof UnitPrice === "number" && Math.abs(Qty * UnitPrice - line.Amount) >= 0.005)
        return {
          refusal: validation(
            "6070",
            "Business Validation Error: Amount is not equal to UnitPrice * Qty.",
            `Amount is not equal to UnitPrice * Qty. Supplied value:${line.Amount}`
          )
        }
      lines.push({
        Id: String(i + 1),
        LineNum: i + 1,
        ...line,
        SalesItemLineDetail: {
          TaxCodeRef: { value: "NON" },
          ...detail,
          ...(itemEntry === undefined ? {} : { ItemRef: { value: itemEntry.id, name: itemEntry.object.Name } })
        }
      })
    }
    const customerId = refValue(input.CustomerRef)
    if (customerId === undefined && type === "invoice") return { refusal: missing("CustomerRef") }
    const customerEntry = customerId === undefined ? undefined : entries(c, "customer").get(String(customerId))
    if (customerId !== undefined && customerEntry === undefined)
      return { refusal: invalidReference("Names", customerId) }
    if (customerEntry !== undefined && !customerEntry.live) return { refusal: notFound() }
    const total = cents(lines.reduce((sum, l) => sum + (l.Amount as number), 0))
    const currency = refValue(input.CurrencyRef) ?? "USD"
    const txnDate = typeof input.TxnDate === "string" ? input.TxnDate : day(now())
    return {
      object: {
        ...(type === "invoice"
          ? {
              AllowIPNPayment: false,
              AllowOnlinePayment: false,
              AllowOnlineCreditCardPayment: false,
              AllowOnlineACHPayment: false,
              LinkedTxn: [],
              DueDate: day(Date.parse(txnDate) + 30 * 86_400_000 - pacificOffsetMs),
              PrintStatus: "NeedToPrint"
            }
          : { DepositToAccountRef: { value: "4", name: "Undeposited Funds" }, PrintStatus: "NotSet" }),
        DocNumber: String(1000 + Number(id)),
        TxnTaxDetail: { TotalTax: 0 },
        ApplyTaxAfterDiscount: false,
        EmailStatus: "NotSet",
        ...input,
        TxnDate: txnDate,
        CurrencyRef: currency === "USD" ? usd : { value: currency, name: String(currency) },
        Line: [...lines, { Amount: total, DetailType: "SubTotalLineDetail", SubTotalLineDetail: {} }],
        ...(customerEntry === undefined
          ? {}
          : { CustomerRef: { value: customerEntry.id, name: customerEntry.object.DisplayName } }),
        TotalAmt: total,
        Balance: type === "invoice" ? total : 0
      }
    }
  }

  const shape = (c: Company, type: FakeQuickBooksEntityType, input: Record<string, unknown>, id: string) => {
    // What the client may not set: the server's own fields.
    const { Id: _id, SyncToken: _token, MetaData: _meta, sparse: _sparse, domain: _domain, ...fields } = input
    if (type === "customer") return customer(c, fields, id)
    if (type === "product") return item(c, fields, id)
    if (type === "order" || type === "invoice") return transaction(c, type, fields, id)
    return { refusal: validation("500", "Unsupported operation requested", `${entityNames[type]} writes`) }
  }

  const answerOf = (type: FakeQuickBooksEntityType, object: unknown) =>
    json(200, { [entityNames[type]]: object, time: responseTime(now()) })

  const create = (c: Company, type: FakeQuickBooksEntityType, input: Record<string, unknown>): Reply => {
    const id = String(c.nextId)
    const shaped = shape(c, type, input, id)
    if ("refusal" in shaped) return shaped.refusal
    c.nextId += 1
    const at = wholeSecond(now())
    const object: QuickBooksObject = {
      ...shaped.object,
      domain: "QBO",
      sparse: false,
      Id: id,
      SyncToken: "0",
      MetaData: metaData(at, at)
    }
    entries(c, type).set(id, new Entry(type, id, Number(id), at, object.Active !== false, object))
    c.creations.set(type, (c.creations.get(type) ?? 0) + 1)
    touch(c, type)
    return answerOf(type, object)
  }

  /** The object an update or delete names, at the SyncToken it read; or Intuit's refusal. */
  const current = (c: Company, type: FakeQuickBooksEntityType, input: Record<string, unknown>) => {
    const entry = entries(c, type).get(String(input.Id))
    if (entry === undefined || entry.object.status === "Deleted") return { refusal: notFound() }
    if (input.SyncToken === undefined) return { refusal: missing("SyncToken") }
    if (String(input.SyncToken) !== entry.object.SyncToken) return { refusal: staleObject() }
    return { entry }
  }

  /** A sparse update changes the fields sent; a full one replaces the object (what it omits is cleared). */
  const update = (c: Company, type: FakeQuickBooksEntityType, input: Record<string, unknown>): Reply => {
    const found = current(c, type, input)
    if ("refusal" in found) return found.refusal
    const { entry } = found
    const merged = input.sparse === true ? { ...entry.object, ...input } : input
    const shaped = shape(c, type, merged, entry.id)
    if ("refusal" in shaped) return shaped.refusal
    const at = wholeSecond(now())
    entry.object = {
      ...shaped.object,
      domain: "QBO",
      sparse: false,
      Id: entry.id,
      SyncToken: String(Number(entry.object.SyncToken) + 1),
      MetaData: metaData(entry.createdMs, at)
    }
    entry.updatedMs = at
    entry.live = entry.object.Active !== false
    touch(c, type)
    return answerOf(type, entry.object)
  }

  /** `?operation=delete`: transactions only; name-list objects are made inactive with an update instead. */
  const remove = (c: Company, type: FakeQuickBooksEntityType, input: Record<string, unknown>): Reply => {
    if (nameList.has(type))
      return validation(
        "500",
        "Unsupported operation requested",
        `Operation Delete is not supported for ${entityNames[type]}`
      )
    const found = current(c, type, input)
    if ("refusal" in found) return found.refusal
    const { entry } = found
    const at = wholeSecond(now())
    entry.object = { domain: "QBO", status: "Deleted", Id: entry.id, MetaData: { LastUpdatedTime: quickBooksTime(at) } }
    entry.updatedMs = at
    entry.live = false
    touch(c, type)
    return answerOf(type, { domain: "QBO", status: "Deleted", Id: entry.id })
  }

  const writable = new Set<FakeQuickBooksEntityType>(["customer", "product", "order", "invoice"])
  const requestIdMax = 50

  /** A create, update or delete; the first answer to a `requestid` is the answer to every repeat of it. */
  const write = (realm: string, type: FakeQuickBooksEntityType, url: URL, text: string): Reply => {
    const c = company(realm)
    const requestId = url.searchParams.get("requestid")
    if (requestId !== null && requestId.length > requestIdMax)
      return validation(
        "2010",
        "Request has invalid or unsupported property",
        `requestid is longer than ${requestIdMax} characters`
      )
    const first = requestId === null ? undefined : c.answered.get(requestId)
    if (first !== undefined) return first
    let input: unknown
    try {
      input = JSON.parse(text)
    } catch {
      input = null
    }
    const operation = url.searchParams.get("operation")
    const reply =
      typeof input !== "object" || input === null || Array.isArray(input)
        ? validation("2010", "Request has invalid or unsupported property", "the request body is not a JSON object")
        : operation === "delete"
          ? remove(c, type, input as Record<string, unknown>)
          : operation !== null && operation !== "update"
            ? validation("500", "Unsupported operation requested", `operation=${operation}`)
            : (input as Record<string, unknown>).Id === undefined
              ? create(c, type, input as Record<string, unknown>)
              : update(c, type, input as Record<string, unknown>)
    if (requestId !== null) c.answered.set(requestId, reply)
    return reply
  }

  /** GET /{entity}/{id}: the object as it stands, inactive ones too; a deleted transaction is not found. */
  const read = (realm: string, type: FakeQuickBooksEntityType, id: string): Reply => {
    const entry = entries(company(realm), type).get(id)
    if (entry === undefined || entry.object.status === "Deleted") return notFound()
    return answerOf(type, entry.object)
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
    /**
     * The data endpoint's answer, to be taken once the token is accepted (a refused write changes nothing), or
     * undefined when the path is not one.
     */
    respond: (
      method: string | undefined,
      realm: string,
      url: URL,
      rest: string,
      body: string
    ): (() => Reply) | undefined => {
      if (method === "GET" && rest === "query") return () => query(realm, url)
      if (method === "GET" && rest === "cdc") return () => cdc(realm, url)
      const [name = "", id, more] = rest.split("/")
      const type = typeOfEntity.get(name) as FakeQuickBooksEntityType | undefined
      if (type === undefined || !writable.has(type) || more !== undefined) return undefined
      if (method === "POST" && id === undefined) return () => write(realm, type, url, body)
      if (method === "GET" && id !== undefined && id !== "") return () => read(realm, type, decodeURIComponent(id))
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
      /** Objects of a type created through the write API in the company (replays and seeds not counted). */
      creations: (realm: string, entityType: FakeQuickBooksEntityType): number =>
        company(realm).creations.get(entityType) ?? 0,
      /** One object as it stands, inactive or deleted ones too; undefined for an unknown Id. */
      record: (realm: string, entityType: FakeQuickBooksEntityType, id: string): QuickBooksObject | undefined =>
        entries(company(realm), entityType).get(id)?.object,
      /** Replaces the company's chart of accounts (default: two Income accounts, Undeposited Funds, Checking). */
      setAccounts: (
        realm: string,
        accounts: ReadonlyArray<{ readonly Id: string; readonly Name: string; readonly AccountType: string }>
      ) => {
        company(realm).accounts = accounts.map((a) => account(a.Id, a.Name, a.AccountType, a.AccountType, now()))
      },
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
