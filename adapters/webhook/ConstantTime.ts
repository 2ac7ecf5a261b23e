/**
 * Constant-time equality for MACs and shared secrets: the time taken depends on the lengths only, never on where
 * the inputs first differ. `bytesEqual(a, b)`, `stringsEqual(a, b)` (compared as UTF-8).
 */

const utf8 = new TextEncoder()

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  const length = Math.max(a.length, b.length)
  // A length mismatch is folded into the result instead of returning early, so every call walks the longer input.
  let difference = a.length ^ b.length
  for (let i = 0; i < length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return difference === 0
}

export const stringsEqual = (a: string, b: string): boolean => bytesEqual(utf8.encode(a), utf8.encode(b))
