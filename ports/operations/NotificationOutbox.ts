import type { Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../../domain/Errors.ts"

/** A notification leased to this process for one attempt; `body` is the exact text to sign and send. */
export interface ClaimedNotification {
  readonly id: string
  readonly type: string
  readonly body: string
  /** This attempt's number, from 1. */
  readonly attempts: number
  readonly createdAt: Date
}

export type NotificationResult =
  | { readonly _tag: "Delivered" }
  | { readonly _tag: "Skipped" }
  | { readonly _tag: "Retry"; readonly error: string; readonly at: Date }
  | { readonly _tag: "Dead"; readonly error: string }

/** Durable notifications (every published event, every provider outage), each delivered by one process at a time. */
export class NotificationOutbox extends Context.Service<
  NotificationOutbox,
  {
    /** Up to `limit` notifications due now, leased for `leaseMillis`; nobody else gets them meanwhile. */
    readonly claim: (
      limit: number,
      leaseMillis: number
    ) => Effect.Effect<ReadonlyArray<ClaimedNotification>, StoreUnavailable>
    readonly finish: (id: string, result: NotificationResult) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/operations/NotificationOutbox") {}
