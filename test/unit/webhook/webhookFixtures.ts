import { readdirSync, readFileSync } from "node:fs"
import { assert, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import fc from "fast-check"
import type { InvalidSignature } from "../../../domain/WebhookEvent.ts"

const root = new URL("../../fixtures/", import.meta.url)

/** A fixture's exact bytes: never re-serialized, because signatures cover them. */
export const fixtureBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, root)))

export const fixtureText = (path: string): string => new TextDecoder().decode(fixtureBytes(path))

export const fixtureNames = (folder: string, extension = ".json"): ReadonlyArray<string> =>
  readdirSync(new URL(folder, root))
    .filter((name) => name.endsWith(extension))
    .sort()
    .map((name) => `${folder}/${name}`)

export const secret = (value: string) => Redacted.make(value)

/** Flips one bit pattern of one byte, so the result always differs from the input. */
export const tampered = (raw: Uint8Array, index = Math.floor(raw.length / 2), mask = 0x01): Uint8Array => {
  const copy = new Uint8Array(raw)
  copy[index % copy.length] = copy[index % copy.length]! ^ (mask || 1)
  return copy
}

/** Changes one character of a base64 or hex signature to another character of the same alphabet. */
export const tamperedSignature = (signature: string): string => {
  const at = Math.floor(signature.length / 2)
  const swapped = signature[at] === "a" ? "b" : "a"
  return `${signature.slice(0, at)}${swapped}${signature.slice(at + 1)}`
}

export const assertAccepted = <E, R>(verification: Effect.Effect<void, E, R>) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(verification)
    assert.isTrue(Result.isSuccess(result), `expected acceptance, got ${String(result)}`)
  })

/** Refused with the opaque error: no reason, secret or signature in what a caller could show. */
export const assertRejected = <R>(
  verification: Effect.Effect<void, InvalidSignature, R>,
  ...neverShown: Array<string>
) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(verification)
    if (Result.isSuccess(result)) return assert.fail("expected InvalidSignature, got acceptance")
    assert.strictEqual(result.failure._tag, "InvalidSignature")
    assert.strictEqual(result.failure.message, "invalid webhook signature")
    const shown = `${String(result.failure)} ${JSON.stringify(result.failure)}`
    for (const value of neverShown) assert.notInclude(shown, value)
  })

/** A provider's check of one raw body against one signature header, under the given secrets or its default ones. */
export type Verify = (
  raw: Uint8Array,
  header: string | undefined,
  secrets?: Array<Redacted.Redacted<string>>
) => Effect.Effect<void, InvalidSignature>

/** What every HMAC-signed fixture must pass: accepted as signed, refused once anything is off. */
export const signedFixtureTests = (options: {
  readonly raw: Uint8Array
  readonly signature: string
  readonly verify: Verify
  /** What the provider calls its secret, as the test titles name it. */
  readonly secretName: string
  readonly wrongSecret: string
}) => {
  const { raw, signature, verify, secretName, wrongSecret } = options
  it.effect("is accepted with a correct signature", () => assertAccepted(verify(raw, signature)))
  it.effect("is refused with a tampered body", () => assertRejected(verify(tampered(raw), signature)))
  it.effect("is refused with a tampered signature", () => assertRejected(verify(raw, tamperedSignature(signature))))
  it.effect(`is refused under a wrong ${secretName}`, () =>
    assertRejected(verify(raw, signature, [secret(wrongSecret)]), wrongSecret, signature)
  )
  it.effect(`is refused when no ${secretName} is configured`, () =>
    Effect.gen(function* () {
      yield* assertRejected(verify(raw, signature, []))
      yield* assertRejected(verify(raw, signature, [secret("")]))
    })
  )
  it.effect("is refused without the header", () =>
    Effect.gen(function* () {
      yield* assertRejected(verify(raw, undefined))
      yield* assertRejected(verify(raw, ""))
    })
  )
}

/** Property: any body signed by `sign` is accepted, and refused once any one byte of it is flipped. */
export const flippedBytesRejected = (sign: (body: Uint8Array) => string, verify: Verify) =>
  Effect.gen(function* () {
    const run = Effect.runPromiseWith(yield* Effect.context<never>())
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 1, maxLength: 512 }),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          async (body, index, mask) => {
            const signature = sign(body)
            assert.strictEqual((await run(Effect.result(verify(body, signature))))._tag, "Success")
            assert.strictEqual(
              (await run(Effect.result(verify(tampered(body, index, mask), signature))))._tag,
              "Failure"
            )
          }
        ),
        { numRuns: 100 }
      )
    )
  })
