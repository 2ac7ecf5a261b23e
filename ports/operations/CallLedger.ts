import { Context, type Effect } from "effect"
import type { CallOutcome } from "../../domain/operations/CallOutcome.ts"
import type { Provider } from "../../domain/Provider.ts"

/** One provider call attempt as it ended. */
export interface ProviderCall {
  readonly provider: Provider
  readonly connectionId: string
  /**
   * What was asked, from a small fixed set (sync: `read_customer`, `query_invoice`, …; `health_check`;
   * `oauth_exchange`, `oauth_refresh`, `oauth_revoke`; `webhook_create`, `webhook_delete`): a label, never an id.
   */
  readonly operation: string
  readonly outcome: CallOutcome
  readonly latencyMs: number
  /** Bytes of the answer where the adapter knows them, else 0. */
  readonly bytes: number
  /** When the call ended, epoch ms: the minute it is counted in. */
  readonly at: number
}

/** Time a sync worker spent on a connection's job. */
export interface WorkerTime {
  readonly connectionId: string
  readonly millis: number
  /** When the work ended, epoch ms: the day it is costed in. */
  readonly at: number
}

/**
 * The ledger of provider calls and their costs. `record` and `recordWork` only add to an in-memory aggregate (per
 * connection, operation, minute and outcome) and never fail or wait on storage; the aggregate is written every few
 * seconds in one statement, priced on the way, and once more when the ledger's scope closes. `flush` writes now.
 */
export class CallLedger extends Context.Service<
  CallLedger,
  {
    readonly record: (call: ProviderCall) => Effect.Effect<void>
    readonly recordWork: (work: WorkerTime) => Effect.Effect<void>
    readonly flush: Effect.Effect<void>
  }
>()("integration-service/ports/operations/CallLedger") {}
