import { Effect, Redacted } from "effect"

const encoder = new TextEncoder()

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))

/** `whsec_<base64>` (the Standard Webhooks secret form) to the key bytes; anything else is not a secret we accept. */
export const secretBytes = (secret: Redacted.Redacted<string>): Uint8Array | null => {
  const value = Redacted.value(secret)
  if (!value.startsWith("whsec_")) return null
  try {
    const bytes = Uint8Array.from(atob(value.slice("whsec_".length)), (c) => c.charCodeAt(0))
    return bytes.length >= 16 ? bytes : null
  } catch {
    return null
  }
}

/**
 * The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` under the
 * secret's bytes, `timestamp` in seconds since the epoch.
 */
export const sign = (key: Uint8Array, id: string, timestamp: number, body: string) =>
  Effect.promise(async () => {
    const cryptoKey = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"]
    )
    const mac = await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(`${id}.${timestamp}.${body}`))
    return `v1,${base64(new Uint8Array(mac))}`
  })
