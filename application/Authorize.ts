import { Effect } from "effect"
import { Forbidden } from "../domain/Errors.ts"
import type { VenueId } from "../domain/Ids.ts"
import { canManage, canRead, type Principal } from "../domain/Principal.ts"

export const requireManage = (principal: Principal, venueId: VenueId) =>
  canManage(principal, venueId)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `role ${principal.role} may not change integrations of venue ${venueId}` }))

export const requireRead = (principal: Principal, venueId: VenueId) =>
  canRead(principal, venueId)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `venue ${venueId} is not one of this user's venues` }))
