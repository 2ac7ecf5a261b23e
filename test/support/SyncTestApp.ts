import { assert } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { SyncWorkerLive } from "../../adapters/main/Sync.ts"
import { type Caller, call, testAppWith } from "./TestApp.ts"

export const base = "/api/v1/integrations"

/** Fast heartbeats and generous budgets, so that a test's sync finishes in seconds; no periodic scheduler. */
export const syncSettings: Record<string, string> = {
  SYNC_SCHEDULER: "false",
  SYNC_HEARTBEAT_INTERVAL: "200 millis",
  SYNC_HEARTBEAT_TIMEOUT: "3 seconds",
  SYNC_RETRY_BASE_DELAY: "20 millis",
  SYNC_BUDGET_STRIPE_LIMIT: "1000",
  SYNC_BUDGET_SQUARE_LIMIT: "1000",
  SYNC_BUDGET_MAILCHIMP_LIMIT: "1000",
  SYNC_BUDGET_QUICKBOOKS_LIMIT: "100000"
}

/** The service with its sync worker running, as `ROLE=all` runs it. */
export const syncAppWith = (overrides: Record<string, string> = {}) => {
  const settings = { ...syncSettings, ...overrides }
  const app = testAppWith(Effect.succeed(settings))
  // The app's configuration stays inside it: the worker reads the same settings from its own provider.
  return SyncWorkerLive.pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(settings))),
    Layer.provideMerge(app)
  )
}

/** Waits until none of the venue's jobs for `provider` is queued or running; answers the status entities. */
export const settled = (provider: string, venueId: string, caller: Caller, timeoutMillis = 60_000) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMillis
    while (true) {
      const status = yield* call("GET", `${base}/${provider}/sync/status?venueId=${venueId}`, { caller })
      assert.strictEqual(status.status, 200, status.text)
      const busy = status.body.entities.filter(
        (e: any) => e.currentJob !== null || e.state === "queued" || e.state === "running"
      )
      if (busy.length === 0) return status.body.entities as ReadonlyArray<any>
      if (Date.now() > until) assert.fail(`still busy: ${JSON.stringify(busy)}`)
      yield* Effect.sleep("150 millis")
    }
  })

/** Waits until none of the venue's jobs for `provider`, inbound or outbound, is queued or running. */
export const jobsSettled = (provider: string, venueId: string, caller: Caller, timeoutMillis = 90_000) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMillis
    while (true) {
      let busy = 0
      for (const status of ["queued", "running"]) {
        const page = yield* call("GET", `${base}/${provider}/sync/history?venueId=${venueId}&status=${status}`, {
          caller
        })
        assert.strictEqual(page.status, 200, page.text)
        busy += page.body.jobs.length
      }
      if (busy === 0) return
      if (Date.now() > until) assert.fail(`${busy} ${provider} jobs still queued or running`)
      yield* Effect.sleep("150 millis")
    }
  })

/** The venue's latest jobs for `provider`, newest first, with counts and logs. */
export const jobHistory = (provider: string, venueId: string, caller: Caller) =>
  Effect.map(call("GET", `${base}/${provider}/sync/history?venueId=${venueId}&limit=100`, { caller }), (page) => {
    assert.strictEqual(page.status, 200, page.text)
    return page.body.jobs as ReadonlyArray<any>
  })

/** The venue's newest job of the entity for `provider`. */
export const latestJob = (provider: string, venueId: string, caller: Caller, entityType: string) =>
  Effect.map(
    call("GET", `${base}/${provider}/sync/history?venueId=${venueId}&entityType=${entityType}`, { caller }),
    (history) => {
      assert.strictEqual(history.status, 200, history.text)
      return history.body.jobs[0]
    }
  )

/** Follows the change feed from `cursor` to its end; answers the changes and the cursor to go on from. */
export const readFeed = (
  provider: string,
  venueId: string,
  caller: Caller,
  cursor: string | null,
  entityType?: string
) =>
  Effect.gen(function* () {
    const changes: Array<any> = []
    let at = cursor
    while (true) {
      const query = new URLSearchParams({ venueId, limit: "500" })
      if (at !== null) query.set("cursor", at)
      if (entityType !== undefined) query.set("entityType", entityType)
      const page = yield* call("GET", `${base}/${provider}/records?${query}`, { caller })
      assert.strictEqual(page.status, 200, page.text)
      changes.push(...page.body.records)
      if (page.body.records.length === 0) return { changes, cursor: at }
      at = page.body.nextCursor
    }
  })

/** A feed's changes as `entity change id` lines, sorted: what "exactly these changes" compares. */
export const changeLines = (changes: ReadonlyArray<any>) =>
  changes.map((c) => `${c.entityType} ${c.change} ${c.externalId}`).sort()

/** The live records a feed describes: the last change of each, deletions removed. */
export const liveOf = (changes: ReadonlyArray<any>, entityType: string) => {
  const last = new Map<string, any>()
  for (const c of changes) if (c.entityType === entityType) last.set(c.externalId, c)
  return new Map([...last].filter(([, c]) => c.change !== "deleted"))
}

export const startSync = (
  provider: string,
  caller: Caller,
  body: Record<string, unknown>,
  headers?: Record<string, string>
) => call("POST", `${base}/${provider}/sync`, { caller, body, ...(headers === undefined ? {} : { headers }) })

/**
 * Runs a sync of the venue to its end under its own idempotency key (the same request within a minute is the same
 * job); every entity's inbound state ends completed. Answers the jobs it started.
 */
export const syncToEnd = (
  provider: string,
  caller: Caller,
  venueId: string,
  body: Record<string, unknown>,
  key: string
) =>
  Effect.gen(function* () {
    const started = yield* startSync(provider, caller, { venueId, ...body }, { "idempotency-key": key })
    assert.strictEqual(started.status, 202, started.text)
    const states = yield* settled(provider, venueId, caller)
    // Entities only pushed (Mailchimp's orders) have no inbound side to complete.
    assert.isTrue(
      states.every((e) => e.state === "completed" || e.state === "outbound_only"),
      JSON.stringify(states)
    )
    return started.body.jobs as ReadonlyArray<any>
  })
