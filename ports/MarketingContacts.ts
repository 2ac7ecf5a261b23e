import type { Effect } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"

/** A change to a marketing contact reported by the provider (Mailchimp list member). */
export type ContactChange =
  | {
      readonly _tag: "ConsentWithdrawn"
      readonly email: string
      readonly memberId: string | null
      readonly reason: string
    }
  | {
      readonly _tag: "EmailChanged"
      readonly oldEmail: string
      readonly newEmail: string
      readonly memberId: string | null
    }

/** The synced copy of marketing contacts (`synced_records`, entity `contact`). */
export class MarketingContacts extends Context.Service<
  MarketingContacts,
  {
    readonly apply: (
      tenantId: TenantId,
      connectionId: ConnectionId,
      change: ContactChange
    ) => Effect.Effect<void, StoreUnavailable>
  }
>()("integration-service/ports/MarketingContacts") {}
