import { Effect, Layer, Option, Redacted, Schema, SchemaIssue } from "effect"
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
      return TokenVerifier.of({
        verify: (token) =>
          Effect.tryPromise({
            try: () =>
              jwtVerify(Redacted.value(token), key as Uint8Array, {
                algorithms,
                ...Option.match(options.issuer, { onNone: () => ({}), onSome: (issuer) => ({ issuer }) }),
                ...Option.match(options.audience, { onNone: () => ({}), onSome: (audience) => ({ audience }) })
              }),
            catch: (cause) =>
              new InvalidToken({ message: `bearer token rejected: ${(cause as { code?: string }).code ?? "invalid"}` })
          }).pipe(
            Effect.flatMap(({ payload }) => decodeClaims(payload)),
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
