import { Duration, Effect, Layer, Option, Redacted, Schema, SchemaIssue } from "effect"
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify, SignJWT } from "jose"
import { TenantId, UserId, VenueId } from "../../domain/Ids.ts"
import { Principal, Role } from "../../domain/Principal.ts"
import { InvalidToken, TokenVerifier } from "../../ports/TokenVerifier.ts"

const Claims = Schema.Struct({
  sub: UserId,
  tenant_id: TenantId,
  venue_ids: Schema.Array(VenueId),
  role: Role
})
const decodeClaims = Schema.decodeUnknownEffect(Claims)

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const describeIssues = (issue: SchemaIssue.Issue) =>
  formatIssues(issue)
    .issues.map((i) => `${(i.path ?? []).map(String).join(".")}: ${i.message}`)
    .join("; ")

export type JwtKeys =
  | { readonly _tag: "Secret"; readonly secret: Redacted.Redacted<string> }
  | { readonly _tag: "Jwks"; readonly url: URL }

export interface JwtOptions {
  readonly keys: JwtKeys
  readonly issuer: Option.Option<string>
  readonly audience: Option.Option<string>
  /** The longest lifetime a token may claim (`exp - iat`, and `exp` from now); default `defaultMaxTtl`. */
  readonly maxTtl?: Duration.Duration | undefined
}

export const defaultMaxTtl = Duration.hours(24)

/** How far ahead of our clock an issuer's `iat` may be. */
const clockSkewSeconds = 60

/**
 * A token must expire, and within `maxTtl`: a stolen token that never expires (or only in a year) is a standing
 * credential. The lifetime is `exp - iat`; `exp - now` bounds it too, so a forged-forward `iat` gains nothing.
 */
const lifetimeProblem = (payload: { exp?: number; iat?: number }, maxTtlSeconds: number, now: number) => {
  const { exp, iat } = payload
  if (exp === undefined) return "the token has no exp claim; tokens must expire"
  if (iat !== undefined && iat > now + clockSkewSeconds) return "the token's iat claim is in the future"
  const lifetime = Math.max(exp - now, iat === undefined ? 0 : exp - iat)
  return lifetime > maxTtlSeconds
    ? `the token lives ${Math.round(lifetime)} s; at most ${maxTtlSeconds} s (JWT_MAX_TTL) is accepted`
    : undefined
}

const rejection = (cause: unknown) => {
  const { code, claim } = cause as { code?: string; claim?: string }
  // jose names the failed claim (exp, nbf, iat, iss, aud); its message never contains the token.
  return claim === undefined
    ? `bearer token rejected: ${code ?? "invalid"}`
    : `bearer token rejected: ${(cause as Error).message}`
}

/** Verifies bearer JWTs with jose: HS256 against a shared secret, or RS256/ES256 against a JWKS URL. */
export const JoseTokenVerifier = {
  layer: (options: JwtOptions) =>
    Layer.sync(TokenVerifier, () => {
      const key: Uint8Array | JWTVerifyGetKey =
        options.keys._tag === "Secret"
          ? new TextEncoder().encode(Redacted.value(options.keys.secret))
          : createRemoteJWKSet(options.keys.url)
      const algorithms = options.keys._tag === "Secret" ? ["HS256"] : ["RS256", "ES256", "PS256"]
      const maxTtlSeconds = Duration.toSeconds(options.maxTtl ?? defaultMaxTtl)
      return TokenVerifier.of({
        verify: (token) =>
          Effect.tryPromise({
            try: () =>
              jwtVerify(Redacted.value(token), key as Uint8Array, {
                algorithms,
                requiredClaims: ["exp"],
                ...Option.match(options.issuer, { onNone: () => ({}), onSome: (issuer) => ({ issuer }) }),
                ...Option.match(options.audience, { onNone: () => ({}), onSome: (audience) => ({ audience }) })
              }),
            catch: (cause) => new InvalidToken({ message: rejection(cause) })
          }).pipe(
            Effect.flatMap(({ payload }) => {
              // Date.now: the clock jose just checked exp and nbf against.
              const problem = lifetimeProblem(payload, maxTtlSeconds, Date.now() / 1000)
              return problem === undefined
                ? decodeClaims(payload)
                : Effect.fail<InvalidToken | Schema.SchemaError>(
                    new InvalidToken({ message: `bearer token rejected: ${problem}` })
                  )
            }),
            Effect.mapError((e) =>
              e._tag === "InvalidToken"
                ? e
                : new InvalidToken({ message: `bearer token claims are invalid: ${describeIssues(e.issue)}` })
            ),
            Effect.map(
              (claims) =>
                new Principal({
                  userId: claims.sub,
                  tenantId: claims.tenant_id,
                  venueIds: claims.venue_ids,
                  role: claims.role
                })
            ),
            Effect.withSpan("JoseTokenVerifier.verify")
          )
      })
    })
}

/** An HS256 token for development and tests (`npm run token`). */
export const signToken = (
  secret: Redacted.Redacted<string>,
  claims: {
    readonly sub: string
    readonly tenantId: string
    readonly venueIds: ReadonlyArray<string>
    readonly role: string
  },
  expiresIn = "12h"
) =>
  new SignJWT({ tenant_id: claims.tenantId, venue_ids: [...claims.venueIds], role: claims.role })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(Redacted.value(secret)))
