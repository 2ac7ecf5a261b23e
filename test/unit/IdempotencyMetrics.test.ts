import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  idempotencyCounts,
  recordIdempotencyConflict,
  recordIdempotentReplay,
  recordSyncRequest
} from "../../application/IdempotencyMetrics.ts"
import { recordWebhookDelivery } from "../../application/Metrics.ts"
import type { SyncJob } from "../../domain/sync/SyncJob.ts"

const job = {} as SyncJob

describe("IdempotencyMetrics", () => {
  it.effect("counts replays, both kinds of conflict, webhook duplicates of every provider and sync hits", () =>
    Effect.gen(function* () {
      const before = yield* idempotencyCounts
      yield* recordIdempotentReplay
      yield* recordIdempotencyConflict("key_reused")
      yield* recordIdempotencyConflict("in_flight")
      yield* recordWebhookDelivery("stripe", "duplicate")
      yield* recordWebhookDelivery("quickbooks", "duplicate", { stored: 0, duplicates: 2, unroutable: 0 })
      yield* recordWebhookDelivery("stripe", "accepted")
      for (const _tag of ["created", "existing", "coalesced"] as const) yield* recordSyncRequest({ _tag, job })
      const after = yield* idempotencyCounts
      assert.deepStrictEqual(after, {
        replays: before.replays + 1,
        conflicts: before.conflicts + 2,
        webhookDuplicates: before.webhookDuplicates + 2,
        syncHits: before.syncHits + 2
      })
    })
  )
})
