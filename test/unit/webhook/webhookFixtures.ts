import { readdirSync, readFileSync } from "node:fs"
import { assert } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
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
