import { parseArgs } from "node:util"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Data, Duration, Effect, Runtime, Schema, SchemaIssue } from "effect"
import { Principal, Role } from "../../domain/Principal.ts"
import { defaultMaxTtl, signToken } from "../http/JoseTokenVerifier.ts"
import { jwtKeys } from "./Auth.ts"
import { SecretsManagerConfig } from "./SecretsManagerConfig.ts"

const defaultTenant = "00000000-0000-4000-8000-000000000001"

const usage = `Usage: npm run token -- [--tenant <uuid>] [--role ${Role.literals.join("|")}] [--venue <uuid>]… [--sub <id>] [--ttl <n>s|m|h|d]

Prints an HS256 JWT signed with JWT_SECRET (or the development secret in DATA_DIR/jwt-secret, generated if missing).
  --tenant <uuid>  the tenant (default ${defaultTenant})
  --role <role>    admin: manages every venue of the tenant (default)
                   venue_admin: manages the venues given with --venue
                   viewer: reads the venues given with --venue
  --venue <uuid>   a venue of the caller; repeat for several
  --sub <id>       the user id (default dev-user)
  --ttl <n><unit>  lifetime: s, m, h or d, e.g. 30m, 12h (default 12h; at most JWT_MAX_TTL, default 24 hours)
  --help           this text`

/** Bad arguments: reported with the usage on stderr, exit code 2, no stack trace. */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {
  override readonly [Runtime.errorReported] = false
  override readonly [Runtime.errorExitCode] = 2
}

const optionOf: Record<string, string> = { userId: "--sub", tenantId: "--tenant", venueIds: "--venue", role: "--role" }
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** The claims as the service will decode them (domain/Principal.ts), so a token that prints is a token it accepts. */
const decodePrincipal = (input: { sub: string; tenant: string; role: string; venue: ReadonlyArray<string> }) =>
  Schema.decodeUnknownEffect(Principal)({
    userId: input.sub,
    tenantId: input.tenant,
    venueIds: input.venue,
    role: input.role
  }).pipe(
    Effect.mapError(
      (error) =>
        new UsageError({
          message: formatIssues(error.issue)
            .issues.map((issue) => {
              const [field, index] = issue.path ?? []
              const option = optionOf[String(field)] ?? String(field)
              const value =
                field === "venueIds" ? input.venue[Number(index)] : input[option.slice(2) as "sub" | "tenant" | "role"]
              return `${option} ${JSON.stringify(value)}: ${issue.message}`
            })
            .join("; ")
        })
    )
  )

const unitSeconds = { s: 1, m: 60, h: 3600, d: 86400 } as const

const parseTtl = (ttl: string, max: Duration.Duration) =>
  Effect.gen(function* () {
    const match = /^([1-9]\d{0,5})([smhd])$/.exec(ttl)
    if (match === null)
      return yield* new UsageError({
        message: `--ttl ${JSON.stringify(ttl)}: expected a positive <n>s|m|h|d, e.g. 12h`
      })
    const [, amount, unit] = match as unknown as [string, string, keyof typeof unitSeconds]
    const seconds = Number(amount) * unitSeconds[unit]
    const duration = Duration.seconds(seconds)
    if (Duration.isGreaterThan(duration, max))
      return yield* new UsageError({
        message: `--ttl ${ttl}: longer than JWT_MAX_TTL (${Duration.format(max)}), which the service would refuse`
      })
    return seconds
  })

const parse = Effect.try({
  try: () =>
    parseArgs({
      options: {
        tenant: { type: "string", default: defaultTenant },
        role: { type: "string", default: "admin" },
        venue: { type: "string", multiple: true, default: [] },
        sub: { type: "string", default: "dev-user" },
        ttl: { type: "string", default: "12h" },
        help: { type: "boolean", short: "h", default: false }
      }
    }).values,
  catch: (error) => new UsageError({ message: error instanceof Error ? error.message : String(error) })
})

const program = Effect.gen(function* () {
  const values = yield* parse
  if (values.help) return yield* Console.log(usage)
  const principal = yield* decodePrincipal(values)
  const maxTtl = yield* Config.Duration("JWT_MAX_TTL").pipe(Config.withDefault(defaultMaxTtl))
  const ttlSeconds = yield* parseTtl(values.ttl, maxTtl)
  const keys = yield* jwtKeys
  if (keys._tag !== "Secret") {
    return yield* new UsageError({
      message: "JWT_JWKS_URL is set: tokens come from your identity provider, not from here"
    })
  }
  const token = yield* Effect.promise(() =>
    signToken(
      keys.secret,
      {
        sub: principal.userId,
        tenantId: principal.tenantId,
        venueIds: principal.venueIds,
        role: principal.role
      },
      `${ttlSeconds}s`
    )
  )
  yield* Console.log(token)
}).pipe(Effect.tapError((e) => (e._tag === "UsageError" ? Console.error(`${e.message}\n\n${usage}`) : Effect.void)))

// JWT_SECRET may come from AWS Secrets Manager (AWS_SECRETS_ID), exactly as the service reads it.
NodeRuntime.runMain(program.pipe(Effect.provide(SecretsManagerConfig)))
