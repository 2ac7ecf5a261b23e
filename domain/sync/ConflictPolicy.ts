import { Schema } from "effect"
import type { EntityType } from "../canonical/EntityType.ts"

export const ConflictPolicy = Schema.Literals(["platform_wins", "provider_wins", "latest_wins"])
export type ConflictPolicy = typeof ConflictPolicy.Type

/**
 * Without a saved policy: the platform owns its catalogue and its sales (events, ticket types, orders, invoices are
 * made there), so its version wins; a buyer's details are edited on both sides (the box office fixes a phone number
 * in Square), so the later edit wins.
 */
export const defaultPolicy = (entityType: EntityType): ConflictPolicy =>
  entityType === "customer" || entityType === "contact" ? "latest_wins" : "platform_wins"

/** What the provider's copy looks like against our last push of the record. */
export interface ProviderSide {
  /** The provider changed the object since our last push (its content differs from what the push left). */
  readonly changedSincePush: boolean
  /** When we saw the provider's change. */
  readonly changedAt: Date
}

/**
 * Push a changed platform record, or keep the provider's change. Only a record both sides changed since the last
 * push is a conflict; `latest_wins` compares the platform's change time with when the provider's change was seen
 * (a tie goes to the platform, whose write is the one asked for now).
 */
export const shouldPush = (policy: ConflictPolicy, platformChangedAt: Date, provider: ProviderSide | null): boolean => {
  if (provider === null || !provider.changedSincePush) return true
  switch (policy) {
    case "platform_wins":
      return true
    case "provider_wins":
      return false
    case "latest_wins":
      return platformChangedAt.getTime() >= provider.changedAt.getTime()
  }
}
