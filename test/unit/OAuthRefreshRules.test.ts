import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { type OAuthProviderName, type RefreshableToken, refreshDueAt, shouldRefresh } from "../../domain/OAuth.ts"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Any instant between 2000 and 2100. */
const instant = fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 })
const provider = fc.constantFrom<OAuthProviderName>("square", "quickbooks", "mailchimp")

const token = (obtainedAt: number, lifetime: number | null, hasRefreshToken = true): RefreshableToken => ({
  obtainedAt: new Date(obtainedAt),
  expiresAt: lifetime === null ? null : new Date(obtainedAt + lifetime),
  hasRefreshToken
})

describe("refresh rules", () => {
  it("QuickBooks: a 1 h token is refreshed from 5 min before expiry, never earlier", () =>
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 2 * HOUR }), (obtainedAt, elapsed) => {
        const t = token(obtainedAt, HOUR)
        const due = elapsed >= HOUR - 5 * MINUTE
        assert.strictEqual(shouldRefresh("quickbooks", t, new Date(obtainedAt + elapsed)), due)
      })
    ))

  it("QuickBooks: the boundary is exactly expiry minus 5 minutes", () => {
    const t = token(Date.UTC(2026, 10, 1), HOUR)
    const boundary = Date.UTC(2026, 10, 1) + HOUR - 5 * MINUTE
    assert.isFalse(shouldRefresh("quickbooks", t, new Date(boundary - 1)))
    assert.isTrue(shouldRefresh("quickbooks", t, new Date(boundary)))
    assert.strictEqual(refreshDueAt("quickbooks", t)?.getTime(), boundary)
  })

  it("Square: a 30-day token is refreshed once older than 7 days", () =>
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 40 * DAY }), (obtainedAt, elapsed) => {
        const t = token(obtainedAt, 30 * DAY)
        assert.strictEqual(shouldRefresh("square", t, new Date(obtainedAt + elapsed)), elapsed >= 7 * DAY)
      })
    ))

  it("Square: a 24 h short-lived token is refreshed 5 min before it expires", () =>
    fc.assert(
      fc.property(instant, fc.integer({ min: 0, max: 2 * DAY }), (obtainedAt, elapsed) => {
        const t = token(obtainedAt, DAY)
        assert.strictEqual(shouldRefresh("square", t, new Date(obtainedAt + elapsed)), elapsed >= DAY - 5 * MINUTE)
      })
    ))

  it("Mailchimp never refreshes: its tokens do not expire and have no refresh token", () =>
    fc.assert(
      fc.property(instant, fc.option(fc.integer({ min: 0, max: 400 * DAY })), instant, (obtainedAt, life, now) => {
        assert.isFalse(shouldRefresh("mailchimp", token(obtainedAt, life), new Date(now)))
        assert.isNull(refreshDueAt("mailchimp", token(obtainedAt, life)))
      })
    ))

  it("nothing is refreshed without a refresh token", () =>
    fc.assert(
      fc.property(provider, instant, fc.option(fc.integer({ min: 0, max: 40 * DAY })), instant, (p, at, life, now) => {
        assert.isFalse(shouldRefresh(p, token(at, life, false), new Date(now)))
      })
    ))

  it("QuickBooks without an expiry is never due (there is nothing to measure against)", () =>
    fc.assert(
      fc.property(instant, instant, (obtainedAt, now) => {
        assert.isFalse(shouldRefresh("quickbooks", token(obtainedAt, null), new Date(now)))
      })
    ))

  it("once due, a token stays due: the rule is monotone in time", () =>
    fc.assert(
      fc.property(
        provider,
        instant,
        fc.option(fc.integer({ min: 0, max: 60 * DAY })),
        fc.integer({ min: -60 * DAY, max: 60 * DAY }),
        fc.integer({ min: 0, max: 60 * DAY }),
        (p, obtainedAt, life, offset, later) => {
          const t = token(obtainedAt, life)
          const now = obtainedAt + offset
          if (shouldRefresh(p, t, new Date(now))) assert.isTrue(shouldRefresh(p, t, new Date(now + later)))
        }
      )
    ))

  it("a refresh is always due before the access token expires", () =>
    fc.assert(
      fc.property(provider, instant, fc.integer({ min: 10 * MINUTE, max: 60 * DAY }), (p, obtainedAt, life) => {
        const due = refreshDueAt(p, token(obtainedAt, life))
        if (due !== null) assert.isBelow(due.getTime(), obtainedAt + life)
      })
    ))
})
