import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { callbackOutcome, codeChallengeS256, codeVerifierFromBytes, isCodeVerifier } from "../../domain/OAuth.ts"

describe("PKCE", () => {
  it.effect("S256 matches the RFC 7636 appendix B vector", () =>
    Effect.gen(function* () {
      const challenge = yield* codeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
      assert.strictEqual(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    })
  )

  it("verifiers drawn from 32 to 96 random bytes are valid RFC 7636 verifiers", () =>
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 96 }), (bytes) => {
        const verifier = codeVerifierFromBytes(bytes)
        assert.isTrue(isCodeVerifier(verifier))
      })
    ))

  it("too little entropy is refused", () => {
    assert.throws(() => codeVerifierFromBytes(new Uint8Array(16)), RangeError)
  })
})

describe("callbackOutcome", () => {
  it("a code with its state", () => {
    assert.deepStrictEqual(callbackOutcome({ code: "c1", state: "s1", realmId: "9" }), {
      _tag: "Code",
      code: "c1",
      state: "s1"
    })
  })

  it("a refusal wins over anything else, state kept when present", () => {
    assert.deepStrictEqual(callbackOutcome({ error: "access_denied", state: "s1", code: "c1" }), {
      _tag: "Denied",
      state: "s1",
      error: "access_denied"
    })
    assert.deepStrictEqual(callbackOutcome({ error: "access_denied" }), {
      _tag: "Denied",
      state: null,
      error: "access_denied"
    })
  })

  it("a code without state, or nothing, is malformed", () => {
    assert.deepStrictEqual(callbackOutcome({ code: "c1" }), { _tag: "Malformed", missing: "state" })
    assert.deepStrictEqual(callbackOutcome({ state: "s1" }), { _tag: "Malformed", missing: "code" })
    assert.strictEqual(callbackOutcome({})._tag, "Malformed")
    assert.strictEqual(callbackOutcome({ code: "", state: "s" })._tag, "Malformed")
  })
})
