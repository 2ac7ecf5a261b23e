import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { Priority } from "../../domain/sync/SyncJob.ts"
import type { QueueUnavailable } from "../WebhookQueue.ts"

/** "Run job <id>", with the trace of the request that asked for it; the job row holds everything else. */
export const SyncMessage = Schema.Struct({
  jobId: Schema.String,
  tenantId: Schema.String,
  traceParent: Schema.NullOr(Schema.String)
})
export type SyncMessage = typeof SyncMessage.Type

/**
 * The sync job queue, one `PersistedQueue` per priority (Redis Streams or SQL store). A message whose worker dies
 * is taken over by another once its lock lapses (`XAUTOCLAIM` on Redis). Offering the same `id` twice is harmless.
 */
export class SyncQueue extends Context.Service<
  SyncQueue,
  {
    readonly offer: (
      message: SyncMessage,
      priority: Priority,
      options: { readonly id: string; readonly delayMillis?: number }
    ) => Effect.Effect<void, QueueUnavailable>
    /** Takes one message of `priority` and hands it to `handle`; blocks while there is none. */
    readonly take: <E, R>(
      priority: Priority,
      handle: (message: SyncMessage) => Effect.Effect<void, E, R>
    ) => Effect.Effect<void, E | QueueUnavailable, R>
  }
>()("integration-service/ports/sync/SyncQueue") {}
