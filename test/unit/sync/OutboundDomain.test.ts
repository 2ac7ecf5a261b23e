import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { defaultTemplate } from "../../../domain/mapping/DefaultTemplates.ts"
import { providers } from "../../../domain/Provider.ts"
import { ConflictPolicy, defaultPolicy, shouldPush } from "../../../domain/sync/ConflictPolicy.ts"
import { fieldsHash, outboundKey } from "../../../domain/sync/OutboundKey.ts"
import { entitiesFor, mappedEntities, supportsDirection, supportsPair } from "../../../domain/sync/SupportedPairs.ts"

const at = (ms: number) => new Date(Date.UTC(2026, 11, 1) + ms)

describe("conflict policies", () => {
  it("a record the provider did not change since the push is always pushed", () => {
    for (const policy of ConflictPolicy.literals) {
      expect(shouldPush(policy, at(0), null)).toBe(true)
      expect(shouldPush(policy, at(0), { changedSincePush: false, changedAt: at(10) })).toBe(true)
    }
  })

  it("both sides changed: each policy decides", () => {
    const provider = { changedSincePush: true, changedAt: at(1_000) }
    expect(shouldPush("platform_wins", at(0), provider)).toBe(true)
    expect(shouldPush("provider_wins", at(2_000), provider)).toBe(false)
    expect(shouldPush("latest_wins", at(999), provider)).toBe(false)
    expect(shouldPush("latest_wins", at(1_001), provider)).toBe(true)
    expect(shouldPush("latest_wins", at(1_000), provider), "a tie goes to the platform").toBe(true)
  })

  it("defaults: buyers' details by the later edit, everything else by the platform", () => {
    expect(defaultPolicy("customer")).toBe("latest_wins")
    expect(defaultPolicy("contact")).toBe("latest_wins")
    expect(defaultPolicy("product")).toBe("platform_wins")
    expect(defaultPolicy("order")).toBe("platform_wins")
  })
})

describe("supported pairs", () => {
  it("outbound only what has a default outbound template", () => {
    for (const provider of providers) {
      for (const entity of entitiesFor(provider, "outbound"))
        expect(defaultTemplate(provider, entity, "outbound"), `${provider} ${entity}`).toBeDefined()
    }
  })

  it("payments are never pushed, and bidirectional needs both directions", () => {
    for (const provider of providers) expect(supportsPair(provider, "payment", "outbound")).toBe(false)
    expect(supportsDirection("stripe", "customer", "bidirectional")).toBe(true)
    expect(supportsDirection("stripe", "order", "bidirectional")).toBe(false)
    expect(supportsDirection("quickbooks", "invoice", "outbound")).toBe(true)
  })

  it("Mailchimp takes orders outbound only (e-commerce orders); its mapped entities are both directions'", () => {
    expect(supportsDirection("mailchimp", "order", "outbound")).toBe(true)
    expect(supportsDirection("mailchimp", "order", "inbound")).toBe(false)
    expect(supportsDirection("mailchimp", "order", "bidirectional")).toBe(false)
    expect(mappedEntities("mailchimp")).toEqual(["contact", "order"])
    expect(mappedEntities("quickbooks")).toEqual(entitiesFor("quickbooks", "inbound"))
  })
})

describe("outbound idempotency keys", () => {
  it("are 32 hex characters, the same for the same push and different for any other", () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.string({ maxLength: 255 }),
        fc.nat(),
        fc.constantFrom("m0", "m1", "delete"),
        (connection, id, version, what) => {
          const key = outboundKey(connection, "customer", id, version, what)
          expect(key).toMatch(/^[0-9a-f]{32}$/)
          expect(outboundKey(connection, "customer", id, version, what)).toBe(key)
          expect(outboundKey(connection, "customer", id, version + 1, what)).not.toBe(key)
          expect(outboundKey(connection, "product", id, version, what)).not.toBe(key)
          expect(outboundKey(connection, "customer", `${id}x`, version, what)).not.toBe(key)
        }
      )
    )
  })

  it("field hashes tell changed fields apart", () => {
    expect(fieldsHash({ email: "a@b.test" })).toBe(fieldsHash({ email: "a@b.test" }))
    expect(fieldsHash({ email: "a@b.test" })).not.toBe(fieldsHash({ email: "a@c.test" }))
  })
})
