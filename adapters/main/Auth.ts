import { Config, Effect, Layer, Option } from "effect"
import { defaultMaxTtl, JoseTokenVerifier, type JwtKeys } from "../http/JoseTokenVerifier.ts"
import { DataDirConfig, developmentSecret } from "./DataDir.ts"

/** JWT_JWKS_URL, else JWT_SECRET, else a development secret generated into DATA_DIR. */
export const jwtKeys = Effect.gen(function* () {
  const jwks = yield* Config.option(Config.URL("JWT_JWKS_URL"))
  if (Option.isSome(jwks)) return { _tag: "Jwks", url: jwks.value } satisfies JwtKeys
  const secret = yield* Config.option(Config.Redacted("JWT_SECRET"))
  if (Option.isSome(secret)) return { _tag: "Secret", secret: secret.value } satisfies JwtKeys
  const dataDir = yield* DataDirConfig
  return { _tag: "Secret", secret: yield* developmentSecret(dataDir, "jwt-secret", "JWT_SECRET") } satisfies JwtKeys
})

export const TokenVerifierLive = Layer.unwrap(
  Effect.gen(function* () {
    return JoseTokenVerifier.layer({
      keys: yield* jwtKeys,
      issuer: yield* Config.option(Config.String("JWT_ISSUER")),
      audience: yield* Config.option(Config.String("JWT_AUDIENCE")),
      maxTtl: yield* Config.Duration("JWT_MAX_TTL").pipe(Config.withDefault(defaultMaxTtl))
    })
  })
)
