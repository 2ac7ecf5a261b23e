/**
 * Idempotency at work, as Effect metrics beside application/Metrics.ts: repeats of an API request answered from
 * its `Idempotency-Key`, keys refused, and sync requests the job store answered with a job it already had. With
 * `webhook_deliveries_total{outcome="duplicate"}` they make `GET /monitoring/idempotency`. Counts are this
 * process's since it started, for every tenant (labels never carry tenant ids).
 */
import { Effect, Metric } from "effect"
import { providers } from "../domain/Provider.ts"
import type { Requested } from "../ports/sync/SyncJobStore.ts"
import { webhookDeliveries } from "./Metrics.ts"

export const apiIdempotentReplays = Metric.counter("api_idempotent_replays_total", {
  description: "API requests answered with the stored answer of an earlier request with the same Idempotency-Key",
  incremental: true
})

/** `key_reused`: the key came with another request (422); `in_flight`: its first request is still running (409). */
export type IdempotencyConflict = "key_reused" | "in_flight"

const conflictReasons: ReadonlyArray<IdempotencyConflict> = ["key_reused", "in_flight"]

export const apiIdempotencyConflicts = Metric.counter("api_idempotency_conflicts_total", {
  description: "API requests refused for their Idempotency-Key, by reason: key_reused (422), in_flight (409)",
  incremental: true
})

export const syncIdempotencyHits = Metric.counter("sync_idempotency_hits_total", {
  description:
    "sync job requests answered with a job the store already had, by outcome: existing (same key), coalesced (joined a waiting job)",
  incremental: true
})

export const recordIdempotentReplay = Metric.update(apiIdempotentReplays, 1)

export const recordIdempotencyConflict = (reason: IdempotencyConflict) =>
  Metric.update(Metric.withAttributes(apiIdempotencyConflicts, { reason }), 1)

/** What `SyncJobStore.request` answered: anything but a new job counts (`existing`, `coalesced`). */
export const recordSyncRequest = (requested: Requested) =>
  requested._tag === "created"
    ? Effect.void
    : Metric.update(Metric.withAttributes(syncIdempotencyHits, { outcome: requested._tag }), 1)

const countOf = (metric: Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

const sum = (counts: ReadonlyArray<Effect.Effect<number>>) =>
  Effect.map(Effect.all(counts), (values) => values.reduce((a, b) => a + b, 0))

/** The counters' current values, summed over their labels. */
export const idempotencyCounts = Effect.all({
  replays: countOf(apiIdempotentReplays),
  conflicts: sum(conflictReasons.map((reason) => countOf(Metric.withAttributes(apiIdempotencyConflicts, { reason })))),
  webhookDuplicates: sum(
    providers.map((provider) => countOf(Metric.withAttributes(webhookDeliveries, { provider, outcome: "duplicate" })))
  ),
  syncHits: sum(
    (["existing", "coalesced"] as const).map((outcome) =>
      countOf(Metric.withAttributes(syncIdempotencyHits, { outcome }))
    )
  )
})
