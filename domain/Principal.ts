import { Schema } from "effect"
import { TenantId, UserId, VenueId } from "./Ids.ts"

/** `operator`: a platform SRE, who sees every tenant on the admin and monitoring routes and manages no venue. */
export const Role = Schema.Literals(["admin", "venue_admin", "viewer", "operator"])
export type Role = typeof Role.Type

/** The authenticated caller, from the JWT claims `sub`, `tenant_id`, `venue_ids`, `role`. */
export class Principal extends Schema.Class<Principal>("Principal")({
  userId: UserId,
  tenantId: TenantId,
  venueIds: Schema.Array(VenueId),
  role: Role
}) {}

/** `admin` manages every venue of its tenant, `venue_admin` only its own venues; nobody else manages. */
export const canManage = (principal: Principal, venueId: VenueId): boolean =>
  principal.role === "admin" || (principal.role === "venue_admin" && principal.venueIds.includes(venueId))

/** Reading is open to every role, but only admins see every venue of the tenant. */
export const canRead = (principal: Principal, venueId: VenueId): boolean =>
  principal.role === "admin" || principal.venueIds.includes(venueId)
