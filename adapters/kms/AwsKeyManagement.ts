import {
  DecryptCommand,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandOutput,
  KMSClient,
  ReEncryptCommand
} from "@aws-sdk/client-kms"
import { Config, type Duration, Effect, Layer, Option, Redacted } from "effect"
import { KeyManagementUnavailable, SecretUnreadable } from "../../domain/Errors.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"

export interface AwsKeyManagementOptions {
  /** Key id, key ARN, alias name or alias ARN; secrets record the key ARN KMS reports. */
  readonly keyId: string
  readonly region: string
  /** A KMS-compatible endpoint (e.g. the sandbox); the AWS default when absent. */
  readonly endpoint?: string
  /** Static credentials; the SDK's default provider chain when absent. */
  readonly credentials?: {
    readonly accessKeyId: string
    readonly secretAccessKey: Redacted.Redacted<string>
    readonly sessionToken?: Redacted.Redacted<string>
  }
  /** SDK attempts per call, retries included (SDK default 3). */
  readonly maxAttempts?: number
  /** Bound on one call, retries included (default 10 seconds). */
  readonly timeout?: Duration.Input
}

/** KMS refuses this wrapped key for good: retrying cannot help. */
const unreadableErrors = new Set([
  "InvalidCiphertextException",
  "IncorrectKeyException",
  "NotFoundException",
  "InvalidKeyUsageException"
])

/** Only the error's name and status: KMS messages are not needed to act and stay out of our errors. */
const describe = (error: unknown) => {
  const e = error as { readonly name?: unknown; readonly $metadata?: { readonly httpStatusCode?: number } }
  const name = typeof e?.name === "string" ? e.name : "Error"
  const status = e?.$metadata?.httpStatusCode
  return { name, text: status === undefined ? name : `${name} (HTTP ${status})` }
}

const make = Effect.fnUntraced(function* (options: AwsKeyManagementOptions) {
  const client = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new KMSClient({
          region: options.region,
          ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
          ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
          ...(options.credentials === undefined
            ? {}
            : {
                credentials: {
                  accessKeyId: options.credentials.accessKeyId,
                  secretAccessKey: Redacted.value(options.credentials.secretAccessKey),
                  ...(options.credentials.sessionToken === undefined
                    ? {}
                    : { sessionToken: Redacted.value(options.credentials.sessionToken) })
                }
              })
        })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const timeout = options.timeout ?? "10 seconds"

  /** Runs one KMS call; `readsSecret` marks calls whose refusal means the stored secret is unreadable. */
  const call = <A>(operation: string, readsSecret: boolean, send: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({
      try: send,
      catch: (error): KeyManagementUnavailable | SecretUnreadable => {
        const { name, text } = describe(error)
        return readsSecret && unreadableErrors.has(name)
          ? new SecretUnreadable({ message: `KMS ${operation} refused the wrapped key: ${name}` })
          : new KeyManagementUnavailable({ message: `KMS ${operation} failed: ${text}` })
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(new KeyManagementUnavailable({ message: `KMS ${operation} timed out` }))
      })
    )

  const keyIdOf = (operation: string, reported: string | undefined) =>
    reported === undefined || reported === ""
      ? Effect.fail(new KeyManagementUnavailable({ message: `KMS ${operation} answered without a KeyId` }))
      : Effect.succeed(reported)

  const generate = call("GenerateDataKey", false, (abortSignal) =>
    client.send(new GenerateDataKeyCommand({ KeyId: options.keyId, KeySpec: "AES_256" }), { abortSignal })
  ).pipe(
    Effect.flatMap((out: GenerateDataKeyCommandOutput) =>
      out.Plaintext === undefined || out.CiphertextBlob === undefined
        ? Effect.fail(new KeyManagementUnavailable({ message: "KMS GenerateDataKey answered without a data key" }))
        : Effect.map(keyIdOf("GenerateDataKey", out.KeyId), (keyId) => ({
            plaintext: out.Plaintext as Uint8Array,
            wrapped: out.CiphertextBlob as Uint8Array,
            keyId
          }))
    ),
    Effect.catchTag("SecretUnreadable", (e) => Effect.fail(new KeyManagementUnavailable({ message: e.message })))
  )

  // The key ARN KMS reports is what secrets record: an alias may be repointed later, the ARN never changes.
  const currentKeyId = yield* generate.pipe(
    Effect.map(({ plaintext, keyId }) => {
      plaintext.fill(0)
      return keyId
    })
  )

  return KeyManagement.of({
    currentKeyId,
    generateDataKey: generate.pipe(
      Effect.map(({ plaintext, wrapped, keyId }) => ({ plaintext: Redacted.make(plaintext), wrapped, keyId })),
      Effect.withSpan("AwsKeyManagement.generateDataKey")
    ),
    decrypt: Effect.fn("AwsKeyManagement.decrypt")(function* (wrapped: Uint8Array, keyId: string) {
      const out = yield* call("Decrypt", true, (abortSignal) =>
        client.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId }), { abortSignal })
      )
      if (out.Plaintext === undefined)
        return yield* new KeyManagementUnavailable({ message: "KMS Decrypt answered without plaintext" })
      return Redacted.make(out.Plaintext)
    }),
    reEncrypt: Effect.fn("AwsKeyManagement.reEncrypt")(function* (
      wrapped: Uint8Array,
      fromKeyId: string,
      toKeyId: string
    ) {
      const out = yield* call("ReEncrypt", true, (abortSignal) =>
        client.send(
          new ReEncryptCommand({ CiphertextBlob: wrapped, SourceKeyId: fromKeyId, DestinationKeyId: toKeyId }),
          { abortSignal }
        )
      )
      if (out.CiphertextBlob === undefined)
        return yield* new KeyManagementUnavailable({ message: "KMS ReEncrypt answered without a ciphertext" })
      return { wrapped: out.CiphertextBlob, keyId: yield* keyIdOf("ReEncrypt", out.KeyId) }
    }),
    ping: generate.pipe(
      Effect.map(({ plaintext }) => plaintext.fill(0)),
      Effect.asVoid,
      Effect.withSpan("AwsKeyManagement.ping")
    )
  })
})

/**
 * `KMS_KEY_ID`, `AWS_REGION`, optionally `KMS_ENDPOINT`. Credentials from
 * `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) when
 * both are set, else the SDK's default chain (instance or task role, SSO, …).
 */
export const AwsKeyManagementConfig = Config.all({
  keyId: Config.String("KMS_KEY_ID"),
  region: Config.String("AWS_REGION"),
  endpoint: Config.option(Config.String("KMS_ENDPOINT")),
  accessKeyId: Config.option(Config.String("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.Redacted("AWS_SECRET_ACCESS_KEY")),
  sessionToken: Config.option(Config.Redacted("AWS_SESSION_TOKEN"))
}).pipe(
  Config.map(
    ({ keyId, region, endpoint, accessKeyId, secretAccessKey, sessionToken }): AwsKeyManagementOptions => ({
      keyId,
      region,
      ...Option.match(endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }),
      ...(Option.isSome(accessKeyId) && Option.isSome(secretAccessKey)
        ? {
            credentials: {
              accessKeyId: accessKeyId.value,
              secretAccessKey: secretAccessKey.value,
              ...Option.match(sessionToken, { onNone: () => ({}), onSome: (token) => ({ sessionToken: token }) })
            }
          }
        : {})
    })
  )
)

/**
 * Master keys in AWS KMS. Building the layer makes one GenerateDataKey call:
 * it proves the key and the credentials work and learns the key's ARN.
 */
export const AwsKeyManagement = {
  layer: (options: AwsKeyManagementOptions) => Layer.effect(KeyManagement, make(options)),
  layerConfig: Layer.unwrap(Effect.map(AwsKeyManagementConfig, (options) => Layer.effect(KeyManagement, make(options))))
}
