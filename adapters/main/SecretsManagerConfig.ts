import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager"
import { Config, ConfigProvider, Data, Effect, Option, Redacted } from "effect"

/** The secret could not be read or is not a JSON object of settings; the message never carries its contents. */
export class SecretsManagerUnavailable extends Data.TaggedError("SecretsManagerUnavailable")<{
  readonly message: string
}> {}

const SecretsManagerSettings = Config.all({
  secretId: Config.option(Config.String("AWS_SECRETS_ID")),
  region: Config.option(Config.String("AWS_REGION")),
  endpoint: Config.option(Config.String("SECRETS_MANAGER_ENDPOINT")),
  accessKeyId: Config.option(Config.String("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.Redacted("AWS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.Redacted("AWS_SESSION_TOKEN"))
})

/** Only the error's name and status: AWS messages are not needed to act on and stay out of ours. */
const describe = (error: unknown) => {
  const e = error as { readonly name?: unknown; readonly $metadata?: { readonly httpStatusCode?: number } }
  const name = typeof e?.name === "string" ? e.name : "Error"
  const status = e?.$metadata?.httpStatusCode
  return status === undefined ? name : `${name} (HTTP ${status})`
}

/** `{"JWT_SECRET": "…", …}` → settings; string, number and boolean values only, named in any error, never shown. */
const settingsOf = (secretId: string, secretString: string | undefined) =>
  Effect.gen(function* () {
    const fail = (why: string) =>
      new SecretsManagerUnavailable({ message: `AWS Secrets Manager secret ${secretId}: ${why}` })
    if (secretString === undefined) return yield* fail("has no SecretString (binary secrets are not supported)")
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(secretString),
      // JSON.parse quotes the text it chokes on: its message would leak the secret.
      catch: () => fail('is not JSON; store the settings as a JSON object, e.g. {"JWT_SECRET": "…"}')
    })
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      return yield* fail('is not a JSON object; store the settings as {"JWT_SECRET": "…", …}')
    const settings: Record<string, string> = {}
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value === "string") settings[name] = value
      else if (typeof value === "number" || typeof value === "boolean") settings[name] = String(value)
      else return yield* fail(`the value of ${name} is not a string`)
    }
    return settings
  })

/**
 * With `AWS_SECRETS_ID` set, the settings stored in that Secrets Manager secret (a JSON object keyed by setting
 * name, e.g. `{"JWT_SECRET": "…", "SQUARE_CLIENT_SECRET": "…", "STRIPE_WEBHOOK_SECRET": "…"}`) are read once at
 * start-up and placed under the environment: a variable set in the environment still wins. Values never reach a log
 * or an error; the names do.
 */
export const secretsManagerProvider: Effect.Effect<
  ConfigProvider.ConfigProvider,
  SecretsManagerUnavailable | Config.ConfigError
> = Effect.gen(function* () {
  const settings = yield* SecretsManagerSettings
  if (Option.isNone(settings.secretId)) return ConfigProvider.fromUnknown({})
  const secretId = settings.secretId.value
  if (Option.isNone(settings.region))
    return yield* new SecretsManagerUnavailable({ message: "AWS_SECRETS_ID is set: AWS_REGION is required too" })
  const region = settings.region.value
  const client = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new SecretsManagerClient({
          region,
          ...Option.match(settings.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }),
          ...(Option.isSome(settings.accessKeyId) && Option.isSome(settings.secretAccessKey)
            ? {
                credentials: {
                  accessKeyId: settings.accessKeyId.value,
                  secretAccessKey: Redacted.value(settings.secretAccessKey.value),
                  ...Option.match(settings.sessionToken, {
                    onNone: () => ({}),
                    onSome: (token) => ({ sessionToken: Redacted.value(token) })
                  })
                }
              }
            : {})
        })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const response = yield* Effect.tryPromise({
    try: (signal) => client.send(new GetSecretValueCommand({ SecretId: secretId }), { abortSignal: signal }),
    catch: (error) =>
      new SecretsManagerUnavailable({
        message: `AWS Secrets Manager GetSecretValue ${secretId} failed: ${describe(error)}`
      })
  }).pipe(
    Effect.timeoutOrElse({
      duration: "10 seconds",
      orElse: () =>
        Effect.fail(
          new SecretsManagerUnavailable({ message: `AWS Secrets Manager GetSecretValue ${secretId} timed out` })
        )
    })
  )
  const values = yield* settingsOf(secretId, response.SecretString)
  const names = Object.keys(values).sort()
  const overridden: Array<string> = []
  for (const name of names) {
    if (Option.isSome(yield* Config.option(Config.String(name)))) overridden.push(name)
  }
  yield* Effect.logInfo(
    `settings from AWS Secrets Manager secret ${secretId}: ${names.join(", ") || "none"}` +
      (overridden.length === 0 ? "" : ` (the environment overrides ${overridden.join(", ")})`)
  )
  return ConfigProvider.fromUnknown(values)
}).pipe(Effect.scoped, Effect.withSpan("SecretsManagerConfig.load"))

/** The provider above, under whatever provider is current (the environment): install it outermost. */
export const SecretsManagerConfig = ConfigProvider.layerAdd(secretsManagerProvider)
