import { Connection } from "../../domain/Connection.ts"
import { SealedSecret } from "../../domain/Credential.ts"
import { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import type { Provider } from "../../domain/Provider.ts"

export const tenantA = TenantId.make("aaaaaaaa-0000-4000-8000-000000000001")
export const tenantB = TenantId.make("bbbbbbbb-0000-4000-8000-000000000002")
export const venueA1 = VenueId.make("aaaaaaaa-1111-4000-8000-000000000001")
export const venueA2 = VenueId.make("aaaaaaaa-2222-4000-8000-000000000002")
export const venueB1 = VenueId.make("bbbbbbbb-1111-4000-8000-000000000001")

export const newId = () => crypto.randomUUID()

export const connection = (
  tenantId: TenantId,
  venueId: VenueId,
  provider: Provider = "stripe",
  overrides: Partial<Connection> = {}
): Connection => {
  const at = new Date("2026-11-01T10:00:00.000Z")
  return new Connection({
    id: ConnectionId.make(newId()),
    tenantId,
    venueId,
    provider,
    authType: provider === "stripe" ? "api_key" : "oauth2",
    status: "connected",
    accountId: "acct_test",
    accountName: "Test venue",
    livemode: false,
    lastError: null,
    connectedAt: at,
    disconnectedAt: null,
    createdAt: at,
    updatedAt: at,
    ...overrides
  })
}

export const sealed = (marker: number, keyId = "key-1") =>
  new SealedSecret({
    ciphertext: new Uint8Array([marker, 1, 2, 3]),
    iv: new Uint8Array(12).fill(marker),
    wrappedKey: new Uint8Array([9, marker]),
    keyId
  })
