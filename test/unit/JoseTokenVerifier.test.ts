import { createServer } from "node:http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { JoseTokenVerifier, signToken } from "../../adapters/http/JoseTokenVerifier.ts"
import { TokenVerifier } from "../../ports/TokenVerifier.ts"

const secret = Redacted.make("unit-test-secret-with-enough-entropy-0123456789")
const claims = {
  sub: "user-7",
  tenantId: "aaaaaaaa-0000-4000-8000-000000000001",
  venueIds: ["aaaaaaaa-1111-4000-8000-000000000001"],
  role: "venue_admin"
}
const hs256 = JoseTokenVerifier.layer({
  keys: { _tag: "Secret", secret },
  issuer: Option.none(),
  audience: Option.none()
})
const verify = (token: string) => TokenVerifier.use((v) => v.verify(Redacted.make(token)))

describe("JoseTokenVerifier", () => {
  it.effect("HS256: a good token becomes the principal its claims name", () =>
    Effect.gen(function* () {
      const principal = yield* verify(yield* Effect.promise(() => signToken(secret, claims)))
      assert.strictEqual(principal.userId, "user-7")
      assert.strictEqual(principal.tenantId, claims.tenantId)
      assert.deepStrictEqual([...principal.venueIds], claims.venueIds)
      assert.strictEqual(principal.role, "venue_admin")
    }).pipe(Effect.provide(hs256))
  )

  it.effect("HS256: wrong secret, expired, alg none and bad claims are refused without echoing the token", () =>
    Effect.gen(function* () {
      const wrong = yield* Effect.promise(() =>
        signToken(Redacted.make("another-secret-entirely-000000000000"), claims)
      )
      const expired = yield* Effect.promise(() => signToken(secret, claims, "-1m"))
      const badTenant = yield* Effect.promise(() => signToken(secret, { ...claims, tenantId: "not-a-uuid" }))
      const badRole = yield* Effect.promise(() => signToken(secret, { ...claims, role: "root" }))
      const none = `${btoa(JSON.stringify({ alg: "none" }))}.${btoa(JSON.stringify({ sub: "x" }))}.`
      for (const token of [wrong, expired, badTenant, badRole, none, "garbage"]) {
        const error = yield* verify(token).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidToken")
        assert.notInclude(JSON.stringify(error) + String(error), token)
      }
      const badTenantError = yield* verify(badTenant).pipe(Effect.flip)
      assert.match(badTenantError.message, /tenant_id/)
    }).pipe(Effect.provide(hs256))
  )

  it.effect("JWKS: RS256 tokens verify against the keys the URL serves; HS256 is not accepted there", () =>
    Effect.gen(function* () {
      const { publicKey, privateKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
      const jwk = { ...(yield* Effect.promise(() => exportJWK(publicKey))), kid: "k1", alg: "RS256", use: "sig" }
      const server = createServer((_, res) => {
        res.setHeader("content-type", "application/json")
        res.end(JSON.stringify({ keys: [jwk] }))
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as { port: number }).port
      const rs256 = yield* Effect.promise(() =>
        new SignJWT({ tenant_id: claims.tenantId, venue_ids: claims.venueIds, role: "admin" })
          .setProtectedHeader({ alg: "RS256", kid: "k1" })
          .setSubject("idp-user")
          .setIssuer("https://idp.test")
          .setExpirationTime("5m")
          .sign(privateKey)
      )
      const layer = JoseTokenVerifier.layer({
        keys: { _tag: "Jwks", url: new URL(`http://127.0.0.1:${port}/jwks.json`) },
        issuer: Option.some("https://idp.test"),
        audience: Option.none()
      })
      const principal = yield* verify(rs256).pipe(Effect.provide(layer))
      assert.strictEqual(principal.role, "admin")
      const hs = yield* Effect.promise(() => signToken(secret, claims))
      assert.strictEqual((yield* verify(hs).pipe(Effect.provide(layer), Effect.flip))._tag, "InvalidToken")
    })
  )
})
