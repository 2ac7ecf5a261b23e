// Another process asking the TokenVault for the same connection's access
// token, for the "one refresh across processes" test. Configuration comes
// from the environment like the service's own (DATABASE_APP_URL, KMS_*,
// QUICKBOOKS_*) plus WORKER_TENANT, WORKER_CONNECTION, WORKER_CALLS and
// WORKER_GO (a file whose appearance starts the calls). It prints `ready`
// once built, then `tokens <json>` with the SHA-256 of every token it got.
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Redacted } from "effect"
import * as Str from "effect/String"
import { layerVaultFromConfig } from "../../adapters/kms/KeyManagementConfig.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { PostgresEventPublisher } from "../../adapters/postgres/PostgresEventPublisher.ts"
import { PostgresTokenStore } from "../../adapters/postgres/PostgresTokenStore.ts"
import { SdkOAuthProviders } from "../../adapters/providers/OAuthProviders.ts"
import { NeedsReauth } from "../../application/NeedsReauth.ts"
import { TokenVault } from "../../application/TokenVault.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"

const Database = Layer.unwrap(
  Effect.map(Config.Redacted("DATABASE_APP_URL"), (url) =>
    PgClient.layer({
      url,
      maxConnections: 5,
      transformResultNames: Str.snakeToCamel,
      transformQueryNames: Str.camelToSnake
    })
  )
)

const Vault = TokenVault.layer.pipe(
  Layer.provide(NeedsReauth.layer),
  Layer.provideMerge(
    Layer.mergeAll(PostgresConnectionStore.layer, PostgresTokenStore.layer, PostgresEventPublisher.layer).pipe(
      Layer.provide(Database)
    )
  ),
  Layer.provide(Layer.mergeAll(layerVaultFromConfig, SdkOAuthProviders.layer))
)

const program = Effect.gen(function* () {
  const vault = yield* TokenVault
  const ref = {
    tenantId: TenantId.make(yield* Config.String("WORKER_TENANT")),
    id: ConnectionId.make(yield* Config.String("WORKER_CONNECTION"))
  }
  const calls = yield* Config.Int("WORKER_CALLS")
  const go = yield* Config.String("WORKER_GO")
  yield* Effect.sync(() => process.stdout.write("ready\n"))
  while (!existsSync(go)) yield* Effect.sleep("2 millis")
  const tokens = yield* Effect.forEach(Array.from({ length: calls }), () => vault.accessToken(ref), {
    concurrency: "unbounded"
  })
  const hashes = tokens.map((t) => createHash("sha256").update(Redacted.value(t.token)).digest("hex"))
  yield* Effect.sync(() => process.stdout.write(`tokens ${JSON.stringify(hashes)}\n`))
})

Effect.runPromise(program.pipe(Effect.provide(Vault), Effect.scoped)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`worker failed: ${error instanceof Error ? error.name : "unknown"}\n`)
    process.exit(1)
  }
)
