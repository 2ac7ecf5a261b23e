import { Schema } from "effect"
import { isStorableText } from "./Text.ts"

const Uuid = Schema.String.check(Schema.isUUID())

export const TenantId = Uuid.pipe(Schema.brand("TenantId"))
export type TenantId = typeof TenantId.Type

export const VenueId = Uuid.pipe(Schema.brand("VenueId"))
export type VenueId = typeof VenueId.Type

export const ConnectionId = Uuid.pipe(Schema.brand("ConnectionId"))
export type ConnectionId = typeof ConnectionId.Type

export const UserId = Schema.String.check(Schema.isNonEmpty(), isStorableText).pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** The id in a registered webhook URL (`?endpoint=we_…`): it names the connection whose secret signs the deliveries. */
export const EndpointPublicId = Schema.String.check(Schema.isPattern(/^we_[0-9a-f]{32}$/)).pipe(
  Schema.brand("EndpointPublicId")
)
export type EndpointPublicId = typeof EndpointPublicId.Type

export const newEndpointPublicId = (): EndpointPublicId =>
  EndpointPublicId.make(`we_${crypto.randomUUID().replaceAll("-", "")}`)

/** A delivery's `?endpoint=` that could never have been issued is refused before any lookup. */
export const isEndpointPublicId = Schema.is(EndpointPublicId)
