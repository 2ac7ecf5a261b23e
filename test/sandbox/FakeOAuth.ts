import { randomBytes } from "node:crypto"

/** What the Square, QuickBooks and Mailchimp fakes share; token formats, endpoints and error bodies stay in each. */
export type FakeOAuthFailure = "invalid_grant" | "server_error" | "rate_limited"

export const randomToken = (prefix: string) => `${prefix}${randomBytes(24).toString("base64url")}`

export interface AuthorizationCode {
  readonly issuedAt: number
  used: boolean
}

const codeLifetime = 5 * 60_000

/**
 * A fake's clock, queued failures and response delay, plus the controls tests
 * drive them with (`controls` is spread into each fake's handle).
 */
export const fakeOAuthState = () => {
  let offset = 0
  let delayMs = 0
  let failure: { readonly mode: FakeOAuthFailure; remaining: number } | null = null
  const now = () => Date.now() + offset

  return {
    now,
    /** The queued failure for this call, if any; each call uses one up. */
    takeFailure: (): FakeOAuthFailure | null => {
      if (failure === null) return null
      const { mode } = failure
      failure.remaining -= 1
      if (failure.remaining <= 0) failure = null
      return mode
    },
    /** Marks a live code used and returns it; an unknown, used or expired code gives undefined. */
    redeem: <C extends AuthorizationCode>(code: C | undefined): C | undefined => {
      if (code === undefined || code.used || now() - code.issuedAt > codeLifetime) return undefined
      code.used = true
      return code
    },
    // The request is processed at once and only the answer waits, as when a client times out on a slow provider.
    delay: async (applies: boolean) => {
      if (delayMs > 0 && applies) await new Promise((resolve) => setTimeout(resolve, delayMs))
    },
    controls: {
      /** The next `times` token (and revoke, where there is one) calls fail this way. */
      fail: (mode: FakeOAuthFailure, times = 1) => {
        failure = { mode, remaining: times }
      },
      /** Every OAuth response waits this long first. */
      setDelay: (ms: number) => {
        delayMs = ms
      },
      /** Moves the fake's clock (code and token expiry). */
      advance: (ms: number) => {
        offset += ms
      },
      /** Plays the account owner at the authorize page; returns the redirect's query. */
      /** Plays the user at the authorize page: approve (for `account`, one of the user's companies/merchants) or deny. */
      consent: async (authorizeUrl: string, choice: { readonly deny?: boolean; readonly account?: string } = {}) => {
        const target = new URL(authorizeUrl)
        if (choice.deny === true) target.searchParams.set("deny", "1")
        if (choice.account !== undefined) target.searchParams.set("account", choice.account)
        const response = await fetch(target, { redirect: "manual" })
        const location = response.headers.get("location")
        if (response.status !== 302 || location === null) throw new Error(`authorize answered ${response.status}`)
        return Object.fromEntries(new URL(location).searchParams)
      }
    }
  }
}
