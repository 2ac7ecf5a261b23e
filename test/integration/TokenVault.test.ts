import { createHash } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { TokenRefresher } from "../../application/TokenRefresher.ts"
import { TokenVault } from "../../application/TokenVault.ts"
import { ConnectionId, TenantId } from "../../domain/Ids.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { EventPublisher } from "../../ports/EventPublisher.ts"
import { TokenStore } from "../../ports/TokenStore.ts"
import { spawnProcess } from "../support/Process.ts"
import { asTenant, type Caller, call, kmsKeyId, TestApp, TestWorld } from "../support/TestApp.ts"
import { TestDatabaseUrls } from "../support/TestDatabase.ts"

const tenant = TenantId.make("aaaaaaaa-0000-4000-8000-0000000000d1")
const venue = (n: number) => `aaaaaaaa-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const workerPath = fileURLToPath(new URL("../support/TokenVaultWorker.ts", import.meta.url))

/** A connected venue, through the real HTTP flow and the provider's fake. */
const connect = (provider: OAuthProviderName, venueId: string) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* call("POST", `/api/v1/integrations/connect/${provider}`, {
      caller: admin,
      body: { venueId }
    })
    const query = yield* Effect.promise(() => world[provider].consent(started.body.authorizationUrl))
    const done = yield* call("GET", `/api/v1/integrations/oauth/callback/${provider}?${new URLSearchParams(query)}`)
    assert.strictEqual(done.status, 200, done.text)
    return { tenantId: tenant, id: ConnectionId.make(done.body.connection.id) }
  })

/** The access token expires in a minute: inside QuickBooks' 5-minute margin. */
const expireSoon = (id: string) =>
  asTenant(
    tenant,
    (sql) => sql`UPDATE oauth_tokens SET expires_at = now() + interval '1 minute' WHERE connection_id = ${id}`
  )

const status = (id: string) =>
  asTenant(
    tenant,
    (sql) => sql<{ status: string; lastError: string | null }>`SELECT status, last_error FROM connections
    WHERE id = ${id}`
  ).pipe(Effect.map((rows) => rows[0]!))

const hash = (token: Redacted.Redacted<string>) => createHash("sha256").update(Redacted.value(token)).digest("hex")

layer(TestApp, { timeout: "60 seconds", excludeTestServices: true })("TokenVault on PostgreSQL", (it) => {
  it.effect("a fresh token is handed out without a refresh", () =>
    Effect.gen(function* () {
      const { quickbooks } = yield* TestWorld
      const ref = yield* connect("quickbooks", venue(1))
      const before = quickbooks.stats().refreshes
      const vault = yield* TokenVault
      const a = yield* vault.accessToken(ref)
      const b = yield* vault.accessToken(ref)
      assert.strictEqual(hash(a.token), hash(b.token))
      assert.strictEqual(quickbooks.stats().refreshes, before)
    })
  )

  it.effect("50 concurrent callers over two processes: exactly one refresh, everyone gets the new token", () =>
    Effect.gen(function* () {
      const world = yield* TestWorld
      const urls = yield* TestDatabaseUrls
      const vault = yield* TokenVault
      const ref = yield* connect("quickbooks", venue(2))
      const old = yield* vault.accessToken(ref)
      yield* expireSoon(ref.id)
      const before = world.quickbooks.stats()
      world.quickbooks.setDelay(300)

      const go = join(mkdtempSync(join(tmpdir(), "token-vault-")), "go")
      const worker = yield* spawnProcess(process.execPath, [workerPath], {
        env: {
          DATABASE_APP_URL: Redacted.value(urls.app),
          KMS_KEY_ID: kmsKeyId,
          KMS_ENDPOINT: world.kms.url,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "AKIDSANDBOX",
          AWS_SECRET_ACCESS_KEY: "sandbox-secret",
          QUICKBOOKS_CLIENT_ID: world.quickbooks.clientId,
          QUICKBOOKS_CLIENT_SECRET: world.quickbooks.clientSecret,
          QUICKBOOKS_BASE_URL: world.quickbooks.url,
          QUICKBOOKS_OAUTH_BASE_URL: world.quickbooks.url,
          WORKER_TENANT: ref.tenantId,
          WORKER_CONNECTION: ref.id,
          WORKER_CALLS: "25",
          WORKER_GO: go
        }
      })
      yield* worker.waitForOutput(/^ready$/m, "30 seconds")
      writeFileSync(go, "")
      const mine = yield* Effect.forEach(Array.from({ length: 25 }), () => vault.accessToken(ref), {
        concurrency: "unbounded"
      })
      const exit = yield* worker.exited.pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(exit.code, 0, worker.output())
      world.quickbooks.setDelay(0)
      const theirs: Array<string> = JSON.parse(/^tokens (.*)$/m.exec(worker.stdout())![1]!)

      const after = world.quickbooks.stats()
      assert.strictEqual(after.refreshes - before.refreshes, 1, "exactly one refresh at the provider")
      assert.strictEqual(after.staleRefreshes, before.staleRefreshes)
      const all = [...mine.map((t) => hash(t.token)), ...theirs]
      assert.strictEqual(all.length, 50)
      assert.strictEqual(new Set(all).size, 1, "every caller got the same token")
      assert.notStrictEqual(all[0], hash(old.token), "and it is the new one")
      assert.strictEqual((yield* status(ref.id)).status, "connected")
    })
  )

  it.effect("a crash between the provider's rotation and the commit leaves a connection that still refreshes", () =>
    Effect.gen(function* () {
      const { quickbooks } = yield* TestWorld
      const store = yield* TokenStore
      let crashes = 1
      const crashing = Layer.succeed(
        TokenStore,
        TokenStore.of({
          ...store,
          replace: (...args) =>
            crashes-- > 0 ? Effect.die(new Error("crash between rotation and commit")) : store.replace(...args)
        })
      )
      const crashingVault = yield* TokenVault.make.pipe(Effect.provide(crashing))
      const vault = yield* TokenVault
      const ref = yield* connect("quickbooks", venue(3))
      const old = yield* vault.accessToken(ref)
      yield* expireSoon(ref.id)
      const before = quickbooks.stats()

      const crashed = yield* Effect.exit(crashingVault.accessToken(ref))
      assert.isTrue(Exit.isFailure(crashed))
      assert.strictEqual(quickbooks.stats().refreshes, before.refreshes + 1, "the provider rotated the pair")
      const pending = yield* asTenant(
        tenant,
        (sql) => sql`SELECT id FROM oauth_pending_tokens WHERE connection_id = ${ref.id}`
      )
      assert.strictEqual(pending.length, 1, "the rotated pair was committed on its own")

      // The next caller promotes the rotated pair: no second call, no stale refresh token.
      const recovered = yield* vault.accessToken(ref)
      assert.notStrictEqual(hash(recovered.token), hash(old.token))
      assert.strictEqual(quickbooks.stats().refreshes, before.refreshes + 1)

      // And the connection keeps refreshing at the provider, which has invalidated the old refresh token.
      yield* expireSoon(ref.id)
      const next = yield* vault.accessToken(ref)
      assert.notStrictEqual(hash(next.token), hash(recovered.token))
      const after = quickbooks.stats()
      assert.strictEqual(after.refreshes, before.refreshes + 2)
      assert.strictEqual(after.staleRefreshes, before.staleRefreshes, "never presented a rotated-away token")
      assert.strictEqual((yield* status(ref.id)).status, "connected")
    })
  )

  it.effect("invalid_grant: needs_reauth after one attempt, the event is published, no further refresh", () =>
    Effect.gen(function* () {
      const { quickbooks } = yield* TestWorld
      const vault = yield* TokenVault
      const events = yield* EventPublisher
      const ref = yield* connect("quickbooks", venue(4))
      yield* expireSoon(ref.id)
      const before = quickbooks.stats().refreshes
      quickbooks.fail("invalid_grant")
      const refused = yield* Effect.flip(vault.accessToken(ref))
      assert.strictEqual(refused._tag, "ReauthorizationRequired")
      assert.strictEqual(quickbooks.stats().refreshes, before + 1)
      const row = yield* status(ref.id)
      assert.strictEqual(row.status, "needs_reauth")
      assert.match(row.lastError!, /invalid_grant/)
      const published = (yield* events.list(tenant)).filter((e) => e.connectionId === ref.id)
      assert.strictEqual(published.length, 1)
      assert.strictEqual(published[0]!.type, "connection.needs_reauth")
      assert.strictEqual(published[0]!.payload.provider, "quickbooks")

      const again = yield* Effect.flip(vault.accessToken(ref))
      assert.strictEqual(again._tag, "ReauthorizationRequired")
      assert.strictEqual(quickbooks.stats().refreshes, before + 1, "no retry storm")
    })
  )

  it.effect("transient failures retry with backoff and never change the status", () =>
    Effect.gen(function* () {
      const { quickbooks } = yield* TestWorld
      const vault = yield* TokenVault
      const ref = yield* connect("quickbooks", venue(5))
      const old = yield* vault.accessToken(ref)
      yield* expireSoon(ref.id)
      const before = quickbooks.stats().refreshes
      quickbooks.fail("server_error", 2)
      const token = yield* vault.accessToken(ref)
      assert.notStrictEqual(hash(token.token), hash(old.token))
      assert.strictEqual(quickbooks.stats().refreshes, before + 3)
      assert.strictEqual((yield* status(ref.id)).status, "connected")

      // Down for good: the still-valid token keeps working and the status stays connected.
      yield* expireSoon(ref.id)
      quickbooks.fail("rate_limited", 10)
      const kept = yield* vault.accessToken(ref)
      assert.strictEqual(hash(kept.token), hash(token.token))
      assert.strictEqual((yield* status(ref.id)).status, "connected")
      quickbooks.fail("rate_limited", 0)
    })
  )

  it.effect("the background refresher renews due pairs across tenants, once, through the same lock", () =>
    Effect.gen(function* () {
      const { square } = yield* TestWorld
      const refresher = yield* TokenRefresher
      const ref = yield* connect("square", venue(6))
      // A week old: Square wants it renewed, no caller asked for it.
      yield* asTenant(
        tenant,
        (sql) => sql`UPDATE oauth_tokens SET obtained_at = now() - interval '8 days',
          renew_at = now() - interval '1 day' WHERE connection_id = ${ref.id}`
      )
      const before = square.stats().refreshes
      const [first, second] = yield* Effect.all([refresher.sweep(), refresher.sweep()], { concurrency: 2 })
      assert.strictEqual(first.failed + second.failed, 0)
      assert.strictEqual(square.stats().refreshes, before + 1, "two sweeps at once renew it once")
      const [row] = yield* asTenant(
        tenant,
        (sql) => sql<{ renewAt: Date }>`SELECT renew_at FROM oauth_tokens WHERE connection_id = ${ref.id}`
      )
      assert.isTrue(row!.renewAt.getTime() > Date.now() + 6 * 86_400_000)
      assert.strictEqual((yield* refresher.sweep()).renewed, 0)
    })
  )
})
