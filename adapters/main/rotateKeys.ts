import { parseArgs } from "node:util"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option, Schema } from "effect"
import { rotateMasterKey } from "../../application/RotateMasterKey.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { SecretCatalog } from "../../ports/SecretCatalog.ts"
import { layerVaultFromConfig } from "../kms/KeyManagementConfig.ts"
import { LocalKeyring, LocalKeyringConfig } from "../kms/LocalKeyring.ts"
import { DatabaseUrlsConfig, layerOwner } from "../postgres/Database.ts"
import { PostgresSecretCatalog } from "../postgres/PostgresSecretCatalog.ts"

const usage = `Re-wraps every stored credential's data key under one master key.

  npm run rotate-keys -- [--to <keyId> | --new] [--batch-size <n>]

  --to <keyId>     the master key to move to (AWS KMS: its key ARN);
                   default: the configured current key (KMS_KEY_ID, or the
                   first key of LOCAL_MASTER_KEY / the keyring file)
  --new            local keyring file only (DATA_DIR): generate a key, make it
                   current, and rotate to it
  --batch-size <n> rows per page (default 100)

Needs DATABASE_URL with the owner's rights (superuser or BYPASSRLS). Safe to
run while the service runs, and idempotent: run it again after restarting the
services on the new key to move what they sealed meanwhile. With
LOCAL_MASTER_KEY, give every service the new key first (any position), then
make it first. Prints counts only, never key material.`

class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

class RotationIncomplete extends Schema.TaggedError<RotationIncomplete>()("RotationIncomplete", {
  message: Schema.String
}) {}

const parseArguments = Effect.try({
  try: () =>
    parseArgs({
      options: {
        to: { type: "string" },
        new: { type: "boolean", default: false },
        "batch-size": { type: "string", default: "100" },
        help: { type: "boolean", short: "h", default: false }
      }
    }).values,
  catch: (error) => new UsageError({ message: `${(error as Error).message}\n\n${usage}` })
})

const program = Effect.gen(function* () {
  const args = yield* parseArguments
  if (args.help) return yield* Console.log(usage)
  const batchSize = Number(args["batch-size"])
  if (!Number.isInteger(batchSize) || batchSize < 1)
    return yield* new UsageError({ message: "--batch-size takes a positive integer" })
  if (args.new && args.to !== undefined) return yield* new UsageError({ message: "give --to or --new, not both" })

  let target = Option.fromNullishOr(args.to)
  if (args.new) {
    const local = yield* LocalKeyringConfig
    if (Option.isSome(yield* Config.option(Config.String("KMS_KEY_ID"))) || Option.isSome(local.keys))
      return yield* new UsageError({
        message: "--new works on the keyring file only: unset KMS_KEY_ID and LOCAL_MASTER_KEY, or pass --to"
      })
    const added = yield* LocalKeyring.addKey(local.dataDir)
    yield* Console.log(`added master key ${added} to the keyring in ${local.dataDir}; it is now the current key`)
    target = Option.some(added)
  }

  const urls = yield* DatabaseUrlsConfig
  const layers = Layer.mergeAll(layerVaultFromConfig, PostgresSecretCatalog.layer.pipe(Layer.provide(layerOwner(urls))))

  yield* Effect.gen(function* () {
    const keys = yield* KeyManagement
    const catalog = yield* SecretCatalog
    const to = Option.getOrElse(target, () => keys.currentKeyId)
    yield* Console.log(`rotating to master key ${to}, ${batchSize} rows per page`)
    const report = yield* rotateMasterKey(to, { batchSize })
    const under = yield* catalog.count(Option.some(to))
    const total = yield* catalog.count(Option.none())
    yield* Console.log(
      [
        `rewrapped:  ${report.rewrapped}`,
        `skipped:    ${report.skipped} (re-sealed by the service meanwhile; run again)`,
        `unreadable: ${report.unreadable}`,
        `now under ${to}: ${under} of ${total}`
      ].join("\n")
    )
    if (to !== keys.currentKeyId)
      yield* Console.log(`note: this process seals new secrets under ${keys.currentKeyId}, not ${to}`)
    if (report.unreadable > 0)
      return yield* new RotationIncomplete({
        message: `${report.unreadable} credential(s) could not be rewrapped: their data key does not unwrap (see the warnings)`
      })
  }).pipe(Effect.provide(layers))
})

NodeRuntime.runMain(program)
