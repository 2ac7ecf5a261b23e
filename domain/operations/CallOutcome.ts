import { Schema } from "effect"

/** How a provider call ended, by class: what the ledger counts and the health rules read. */
export const CallOutcome = Schema.Literals(["ok", "4xx", "429", "5xx", "timeout"])
export type CallOutcome = typeof CallOutcome.Type

export const callOutcomes: ReadonlyArray<CallOutcome> = CallOutcome.literals

/** An HTTP status as an outcome class; no status (the network, a timeout) is `timeout`. */
export const outcomeOfStatus = (status: number | null): CallOutcome => {
  if (status === null) return "timeout"
  if (status === 429) return "429"
  if (status >= 500) return "5xx"
  if (status >= 400) return "4xx"
  return "ok"
}

/**
 * A failed call's outcome from what the adapters raise (`ProviderCallFailed`: kind, status): a 429 is `429` even
 * when the status is missing, `unavailable` without a status was the network or a timeout, the other kinds are the
 * provider refusing the request (4xx). Anything else the call failed with counts as a 4xx when it names one, else as
 * a 5xx: the provider's answer could not be used.
 */
export const outcomeOfFailure = (error: unknown): CallOutcome => {
  const e = (typeof error === "object" && error !== null ? error : {}) as { kind?: unknown; status?: unknown }
  const status = typeof e.status === "number" ? e.status : null
  if (e.kind === "rate_limited") return "429"
  if (e.kind === "unavailable") return status === null ? "timeout" : status >= 500 ? "5xx" : outcomeOfStatus(status)
  if (typeof e.kind === "string")
    return status !== null && status >= 400 && status < 500 ? outcomeOfStatus(status) : "4xx"
  if (status !== null && status >= 400) return outcomeOfStatus(status)
  return "5xx"
}
