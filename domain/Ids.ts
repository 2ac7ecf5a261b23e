import { Schema } from "effect"

const Uuid = Schema.String.check(Schema.isUUID())

export const TenantId = Uuid.pipe(Schema.brand("TenantId"))
export type TenantId = typeof TenantId.Type

export const VenueId = Uuid.pipe(Schema.brand("VenueId"))
export type VenueId = typeof VenueId.Type

export const ConnectionId = Uuid.pipe(Schema.brand("ConnectionId"))
export type ConnectionId = typeof ConnectionId.Type

export const UserId = Schema.String.check(Schema.isNonEmpty()).pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type
