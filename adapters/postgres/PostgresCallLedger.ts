import { Config, Duration, Effect, Layer, Schedule, Schema, Semaphore } from "effect"
import { SqlClient } from "effect/sql"
import { addHistograms, bucketOf, emptyHistogram } from "../../domain/operations/LatencyHistogram.ts"
import {
  costOfCalls,
  costOfWork,
  defaultPrices,
  PriceOverrides,
  type PriceTable,
  withDefaults
} from "../../domain/operations/Prices.ts"
import { CallLedger, type ProviderCall, type WorkerTime } from "../../ports/operations/CallLedger.ts"

export const CallLedgerConfig = Config.all({
  flushEvery: Config.Duration("CALL_LEDGER_FLUSH_INTERVAL").pipe(Config.withDefault(Duration.seconds(5))),
  pruneEvery: Config.Duration("CALL_LEDGER_PRUNE_INTERVAL").pipe(Config.withDefault(Duration.hours(1))),
  minutesKept: Config.Duration("CALL_LEDGER_MINUTES_KEPT").pipe(Config.withDefault(Duration.hours(48))),
  daysKept: Config.Duration("CALL_LEDGER_DAYS_KEPT").pipe(Config.withDefault(Duration.days(400))),
  /** Aggregates held while the database refuses flushes; beyond this the oldest flush's are dropped (and logged). */
  maxKeys: Config.Int("CALL_LEDGER_MAX_KEYS").pipe(Config.withDefault(200_000)),
  prices: Config.schema(Schema.fromJsonString(PriceOverrides), "OPERATIONS_PRICES").pipe(
    Config.map(withDefaults),
    Config.withDefault(defaultPrices)
  )
})

interface CallAggregate {
  readonly call: ProviderCall
  readonly minute: number
  calls: number
  latencyMs: number
  latencyMaxMs: number
  buckets: Array<number>
  bytes: number
}

// A connection id that is no uuid would fail the whole flush: such a call is not recorded.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const minuteOf = (at: number) => Math.floor(at / 60_000) * 60_000
const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10)

/** The flush's arguments of `app_record_provider_calls` (migration 0012), priced. */
const callsJson = (prices: PriceTable, aggregates: Iterable<CallAggregate>) =>
  Array.from(aggregates, (a) => {
    const cost = costOfCalls(prices, a.call.provider, a.call.operation, a.call.outcome, a.calls)
    return {
      connection_id: a.call.connectionId,
      operation: a.call.operation,
      minute: new Date(a.minute).toISOString(),
      outcome: a.call.outcome,
      calls: a.calls,
      latency_ms: Math.round(a.latencyMs),
      latency_max_ms: Math.round(a.latencyMaxMs),
      latency_buckets: a.buckets,
      bytes: a.bytes,
      cost_micros: cost.costMicros,
      quota_calls: cost.quotaCalls
    }
  })

const workJson = (
  prices: PriceTable,
  work: ReadonlyMap<string, { connectionId: string; day: string; millis: number }>
) =>
  Array.from(work.values(), (w) => ({
    connection_id: w.connectionId,
    day: w.day,
    worker_millis: Math.round(w.millis),
    cost_micros: costOfWork(prices, w.millis)
  }))

/**
 * Deletes what is past retention: minute detail and the hourly rollup older than `minutesKept`, daily rows older
 * than `daysKept`.
 */
export const pruneCallLedger = (minutesKept: Duration.Duration, daysKept: Duration.Duration) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ minutes: number; hours: number; days: number }>`SELECT * FROM app_prune_call_ledger(
      ${Duration.toMillis(minutesKept)} * interval '1 millisecond', ${Duration.toMillis(daysKept)} * interval '1 millisecond')`
    return row ?? { minutes: 0, hours: 0, days: 0 }
  })

/**
 * The ledger on PostgreSQL: calls add to an in-memory aggregate per (connection, operation, minute, outcome) and
 * worker time to one per (connection, day); every `CALL_LEDGER_FLUSH_INTERVAL` both are priced and written in one
 * statement (`app_record_provider_calls`), which adds to the minute rows, the hourly and daily rollups and
 * integration_costs. A
 * failed flush keeps its aggregates for the next one. Retention runs every `CALL_LEDGER_PRUNE_INTERVAL`.
 */
export const PostgresCallLedger = {
  layer: Layer.effect(
    CallLedger,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const config = yield* CallLedgerConfig
      let calls = new Map<string, CallAggregate>()
      let work = new Map<string, { connectionId: string; day: string; millis: number }>()
      const writing = Semaphore.makeUnsafe(1)

      const addCall = (into: Map<string, CallAggregate>, a: CallAggregate) => {
        const key = `${a.call.connectionId}|${a.call.operation}|${a.minute}|${a.call.outcome}`
        const held = into.get(key)
        if (held === undefined) into.set(key, a)
        else {
          held.calls += a.calls
          held.latencyMs += a.latencyMs
          held.latencyMaxMs = Math.max(held.latencyMaxMs, a.latencyMaxMs)
          held.buckets = addHistograms(held.buckets, a.buckets)
          held.bytes += a.bytes
        }
      }
      const addWork = (connectionId: string, day: string, millis: number) => {
        const key = `${connectionId}|${day}`
        const held = work.get(key)
        if (held === undefined) work.set(key, { connectionId, day, millis })
        else held.millis += millis
      }

      const record = (call: ProviderCall) =>
        Effect.sync(() => {
          if (!uuid.test(call.connectionId)) return
          const buckets = emptyHistogram()
          buckets[bucketOf(call.latencyMs)] = 1
          addCall(calls, {
            call,
            minute: minuteOf(call.at),
            calls: 1,
            latencyMs: call.latencyMs,
            latencyMaxMs: call.latencyMs,
            buckets,
            bytes: call.bytes
          })
        })

      const recordWork = (w: WorkerTime) =>
        Effect.sync(() => {
          if (uuid.test(w.connectionId)) addWork(w.connectionId, dayOf(w.at), w.millis)
        })

      const flush = writing
        .withPermits(1)(
          Effect.gen(function* () {
            if (calls.size === 0 && work.size === 0) return
            const takenCalls = calls
            const takenWork = work
            calls = new Map()
            work = new Map()
            yield* sql`SELECT app_record_provider_calls(
            ${JSON.stringify(callsJson(config.prices, takenCalls.values()))}::jsonb,
            ${JSON.stringify(workJson(config.prices, takenWork))}::jsonb)`.pipe(
              Effect.catch((error) =>
                Effect.gen(function* () {
                  // Kept for the next flush unless the backlog is already too large: counts are best effort.
                  if (calls.size + takenCalls.size > config.maxKeys) {
                    yield* Effect.logWarning("call ledger: flush failed, aggregates dropped").pipe(
                      Effect.annotateLogs({ "ledger.dropped": takenCalls.size, "error.message": error.message })
                    )
                    return
                  }
                  for (const a of takenCalls.values()) addCall(calls, a)
                  for (const w of takenWork.values()) addWork(w.connectionId, w.day, w.millis)
                  yield* Effect.logWarning("call ledger: flush failed, kept for the next one").pipe(
                    Effect.annotateLogs({ "error.message": error.message })
                  )
                })
              )
            )
          })
        )
        .pipe(Effect.withSpan("CallLedger.flush"))

      yield* flush.pipe(Effect.repeat(Schedule.spaced(config.flushEvery)), Effect.forkScoped)
      // What is still held when the process stops is written before the pool closes.
      yield* Effect.addFinalizer(() => flush)
      yield* pruneCallLedger(config.minutesKept, config.daysKept).pipe(
        Effect.tap((pruned) => Effect.logDebug("call ledger pruned").pipe(Effect.annotateLogs(pruned))),
        Effect.catch((error) =>
          Effect.logWarning("call ledger: pruning failed").pipe(Effect.annotateLogs({ "error.message": error.message }))
        ),
        Effect.repeat(Schedule.spaced(config.pruneEvery)),
        Effect.forkScoped
      )

      return CallLedger.of({ record, recordWork, flush })
    })
  )
} as const
