import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option } from "effect"
import { MemoryConnectionStore } from "../../adapters/memory/MemoryConnectionStore.ts"
import { MemoryTokenStore } from "../../adapters/memory/MemoryTokenStore.ts"
import { PostgresConnectionStore } from "../../adapters/postgres/PostgresConnectionStore.ts"
import { PostgresTokenStore } from "../../adapters/postgres/PostgresTokenStore.ts"
import type { Connection } from "../../domain/Connection.ts"
import type { SealedSecret } from "../../domain/Credential.ts"
import { type TenantId, VenueId } from "../../domain/Ids.ts"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { type SealedTokens, TokenStore } from "../../ports/TokenStore.ts"
import { connection, sealed, tenantA, tenantB } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

const obtainedAt = new Date("2026-11-01T10:00:00.000Z")

const pair = (marker: number, overrides: Partial<SealedTokens> = {}): SealedTokens => ({
  accessToken: sealed(marker),
  refreshToken: sealed(marker + 100),
  lifecycle: {
    obtainedAt,
    expiresAt: new Date(obtainedAt.getTime() + 3_600_000),
    refreshTokenExpiresAt: new Date(obtainedAt.getTime() + 100 * 86_400_000),
    hasRefreshToken: true,
    scopes: ["com.intuit.quickbooks.accounting"],
    extra: {}
  },
  renewAt: null,
  ...overrides
})

const bytes = (secret: SealedSecret | null) => (secret === null ? null : [...secret.ciphertext])

/** An OAuth connection of a venue no other test uses. */
const oauthConnection = (tenantId: TenantId = tenantA, provider: OAuthProviderName = "quickbooks") =>
  connection(tenantId, VenueId.make(crypto.randomUUID()), provider, { accountId: "realm-1" })

const granted = (c: Connection, tokens: SealedTokens = pair(1)) =>
  Effect.flatMap(TokenStore, (s) => s.saveGrant(c, tokens))

/** A fresh QuickBooks connection granted its first pair. */
const grantedConnection = Effect.gen(function* () {
  const c = oauthConnection()
  yield* granted(c)
  return c
})

const readSome = (tenantId: TenantId, c: Connection) =>
  Effect.flatMap(TokenStore, (s) => s.read(tenantId, c.id)).pipe(Effect.map(Option.getOrThrow))

const contract = (name: string, stores: Layer.Layer<TokenStore | ConnectionStore>) =>
  layer(stores, { timeout: "60 seconds", excludeTestServices: true })(`TokenStore contract: ${name}`, (it) => {
    it.effect("a grant stores the connection (connected, health row) and its pair at version 1", () =>
      Effect.gen(function* () {
        const connections = yield* ConnectionStore
        const c = oauthConnection(tenantA, "mailchimp")
        const tokens = pair(1, { lifecycle: { ...pair(1).lifecycle, extra: { dc: "us7" }, scopes: [] } })
        const saved = yield* granted(c, tokens)
        assert.strictEqual(saved.id, c.id)
        const found = yield* connections.find(tenantA, c.venueId, "mailchimp").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "connected")
        assert.strictEqual(found.accountId, "realm-1")
        assert.isTrue(Option.isSome(yield* connections.health(tenantA, c.id)))

        const stored = yield* readSome(tenantA, c)
        assert.strictEqual(stored.tenantId, tenantA)
        assert.strictEqual(stored.connectionId, c.id)
        assert.strictEqual(stored.venueId, c.venueId)
        assert.strictEqual(stored.provider, "mailchimp")
        assert.strictEqual(stored.status, "connected")
        assert.strictEqual(stored.version, 1)
        assert.deepStrictEqual(bytes(stored.accessToken), [1, 1, 2, 3])
        assert.deepStrictEqual(bytes(stored.refreshToken), [101, 1, 2, 3])
        assert.deepStrictEqual([...stored.accessToken.iv], [...sealed(1).iv])
        assert.deepStrictEqual([...stored.accessToken.wrappedKey], [9, 1])
        assert.strictEqual(stored.accessToken.keyId, "key-1")
        assert.deepStrictEqual(stored.lifecycle.obtainedAt, tokens.lifecycle.obtainedAt)
        assert.deepStrictEqual(stored.lifecycle.expiresAt, tokens.lifecycle.expiresAt)
        assert.deepStrictEqual(stored.lifecycle.refreshTokenExpiresAt, tokens.lifecycle.refreshTokenExpiresAt)
        assert.isTrue(stored.lifecycle.hasRefreshToken)
        assert.deepStrictEqual([...stored.lifecycle.scopes], [])
        assert.deepStrictEqual({ ...stored.lifecycle.extra }, { dc: "us7" })
        assert.deepStrictEqual(stored.pending, [])
      })
    )

    it.effect("nothing is stored for an unknown pair, and another tenant reads and locks nothing", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = oauthConnection()
        assert.isTrue(Option.isNone(yield* s.read(tenantA, c.id)))
        yield* granted(c)
        assert.isTrue(Option.isNone(yield* s.read(tenantB, c.id)))
        const seen = yield* s.locked(tenantB, c.id, (current) => Effect.succeed(current))
        assert.isTrue(Option.isNone(seen))
      })
    )

    it.effect("a new grant keeps the connection id and creation time, bumps the version, drops pending pairs", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const first = oauthConnection()
        yield* granted(first)
        yield* s.savePending(tenantA, first.id, 1, sealed(50))
        const again = connection(tenantA, first.venueId, "quickbooks", {
          accountId: "realm-2",
          createdAt: new Date("2026-12-01T00:00:00.000Z")
        })
        const saved = yield* granted(again, pair(2, { refreshToken: null }))
        assert.strictEqual(saved.id, first.id)
        assert.deepStrictEqual(saved.createdAt, first.createdAt)
        assert.strictEqual(saved.accountId, "realm-2")
        const stored = yield* readSome(tenantA, first)
        assert.strictEqual(stored.version, 2)
        assert.deepStrictEqual(bytes(stored.accessToken), [2, 1, 2, 3])
        assert.deepStrictEqual(bytes(stored.refreshToken), [101, 1, 2, 3], "no new refresh token: the old one stays")
        assert.deepStrictEqual(stored.pending, [])
      })
    )

    it.effect("replace is a compare-and-set on the version", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = yield* grantedConnection
        yield* s.replace(tenantA, c.id, 1, pair(3))
        const stale = yield* Effect.flip(s.replace(tenantA, c.id, 1, pair(4)))
        assert.strictEqual(stale._tag, "StoreUnavailable")
        const stored = yield* readSome(tenantA, c)
        assert.strictEqual(stored.version, 2)
        assert.deepStrictEqual(bytes(stored.accessToken), [3, 1, 2, 3])
        assert.deepStrictEqual(bytes(stored.refreshToken), [103, 1, 2, 3])
        const missing = yield* Effect.exit(s.replace(tenantB, c.id, 2, pair(5)))
        assert.isTrue(Exit.isFailure(missing), "another tenant's pair is not there to replace")
      })
    )

    it.effect("replace without a refresh token keeps the stored one, unless the pair has none any more", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = oauthConnection(tenantA, "square")
        yield* granted(c)
        yield* s.replace(tenantA, c.id, 1, pair(6, { refreshToken: null }))
        assert.deepStrictEqual(bytes((yield* readSome(tenantA, c)).refreshToken), [101, 1, 2, 3])
        const none = pair(7, { refreshToken: null })
        yield* s.replace(tenantA, c.id, 2, { ...none, lifecycle: { ...none.lifecycle, hasRefreshToken: false } })
        const stored = yield* readSome(tenantA, c)
        assert.isNull(stored.refreshToken)
        assert.isFalse(stored.lifecycle.hasRefreshToken)
      })
    )

    it.effect("pending pairs: newest first, only from the current version on; replace drops them all", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = yield* grantedConnection
        yield* s.replace(tenantA, c.id, 1, pair(8))
        const older = yield* s.savePending(tenantA, c.id, 1, sealed(60))
        const a = yield* s.savePending(tenantA, c.id, 2, sealed(61))
        const b = yield* s.savePending(tenantA, c.id, 2, sealed(62))
        const ahead = yield* s.savePending(tenantA, c.id, 3, sealed(63))
        const stored = yield* readSome(tenantA, c)
        assert.deepStrictEqual(
          stored.pending.map((p) => p.id),
          [ahead, b, a]
        )
        assert.notInclude(
          stored.pending.map((p) => p.id),
          older
        )
        assert.deepStrictEqual(bytes(stored.pending[0]!.sealed), [63, 1, 2, 3])
        yield* s.replace(tenantA, c.id, 2, pair(9))
        assert.deepStrictEqual((yield* readSome(tenantA, c)).pending, [])
      })
    )

    it.effect("a failing locked body commits nothing it replaced, but its pending pair stays", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const connections = yield* ConnectionStore
        const c = yield* grantedConnection
        const failed = yield* Effect.exit(
          s.locked(tenantA, c.id, (current) =>
            Effect.gen(function* () {
              const version = Option.getOrThrow(current).version
              yield* s.savePending(tenantA, c.id, version, sealed(70))
              yield* s.replace(tenantA, c.id, version, pair(10))
              yield* s.markNeedsReauth(tenantA, c.id, "invalid_grant", new Date())
              return yield* Effect.fail("crash before commit" as const)
            })
          )
        )
        assert.isTrue(Exit.isFailure(failed))
        const stored = yield* readSome(tenantA, c)
        assert.strictEqual(stored.version, 1)
        assert.strictEqual(stored.status, "connected")
        assert.deepStrictEqual(bytes(stored.accessToken), [1, 1, 2, 3])
        assert.deepStrictEqual(
          stored.pending.map((p) => bytes(p.sealed)),
          [[70, 1, 2, 3]]
        )
        const found = yield* connections.find(tenantA, c.venueId, "quickbooks").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "connected")
      })
    )

    it.effect("a succeeding locked body commits its writes together, and reads them inside", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = yield* grantedConnection
        const inside = yield* s.locked(tenantA, c.id, (current) =>
          Effect.gen(function* () {
            const version = Option.getOrThrow(current).version
            yield* s.replace(tenantA, c.id, version, pair(11))
            yield* s.replace(tenantA, c.id, version + 1, pair(12))
            return yield* s.read(tenantA, c.id)
          })
        )
        assert.strictEqual(Option.getOrThrow(inside).version, 3)
        const stored = yield* readSome(tenantA, c)
        assert.strictEqual(stored.version, 3)
        assert.deepStrictEqual(bytes(stored.accessToken), [12, 1, 2, 3])
      })
    )

    it.effect("locked bodies of one pair never overlap; each sees the previous one's commit", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = yield* grantedConnection
        let inside = 0
        let overlapped = false
        const refresh = (marker: number) =>
          s.locked(tenantA, c.id, (current) =>
            Effect.gen(function* () {
              inside++
              if (inside > 1) overlapped = true
              const version = Option.getOrThrow(current).version
              yield* Effect.sleep("30 millis")
              yield* s.replace(tenantA, c.id, version, pair(marker))
              inside--
              return version
            })
          )
        const seen = yield* Effect.all([refresh(20), refresh(21), refresh(22)], { concurrency: "unbounded" })
        assert.isFalse(overlapped)
        assert.deepStrictEqual([...seen].sort(), [1, 2, 3])
        assert.strictEqual((yield* readSome(tenantA, c)).version, 4)
      })
    )

    it.effect("a grant waits for a refresh in flight and lands after it", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const c = yield* grantedConnection
        const entered = yield* Deferred.make<void>()
        const refresh = yield* s
          .locked(tenantA, c.id, (current) =>
            Effect.gen(function* () {
              yield* Deferred.succeed(entered, undefined)
              yield* Effect.sleep("150 millis")
              yield* s.replace(tenantA, c.id, Option.getOrThrow(current).version, pair(30))
            })
          )
          .pipe(Effect.forkChild)
        yield* Deferred.await(entered)
        yield* granted(connection(tenantA, c.venueId, "quickbooks"), pair(31))
        yield* Fiber.join(refresh)
        const stored = yield* readSome(tenantA, c)
        assert.strictEqual(stored.version, 3)
        assert.deepStrictEqual(bytes(stored.accessToken), [31, 1, 2, 3])
      })
    )

    it.effect("markNeedsReauth sets the status with the reason and stops background renewal", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const connections = yield* ConnectionStore
        const c = oauthConnection(tenantA, "square")
        yield* granted(c, pair(40, { renewAt: new Date("2000-01-01T00:00:00.000Z") }))
        const before = new Date("2000-06-01T00:00:00.000Z")
        assert.isTrue((yield* s.due(before, 1000)).some((d) => d.connectionId === c.id))
        const at = new Date("2026-11-03T00:00:00.000Z")
        yield* s.markNeedsReauth(tenantA, c.id, "square refused the refresh token (invalid_grant)", at)
        const found = yield* connections.find(tenantA, c.venueId, "square").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "needs_reauth")
        assert.strictEqual(found.lastError, "square refused the refresh token (invalid_grant)")
        assert.strictEqual((yield* readSome(tenantA, c)).status, "needs_reauth")
        assert.isFalse((yield* s.due(before, 1000)).some((d) => d.connectionId === c.id))
      })
    )

    it.effect("due lists connected pairs whose renewal is due, oldest first, across tenants, up to the limit", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const connections = yield* ConnectionStore
        const renew = (iso: string) => pair(41, { renewAt: new Date(iso) })
        const a = oauthConnection(tenantA, "square")
        const b = oauthConnection(tenantA, "quickbooks")
        const other = oauthConnection(tenantB, "square")
        const broken = oauthConnection(tenantA, "square")
        const later = oauthConnection(tenantA, "square")
        yield* granted(b, renew("1990-01-02T00:00:00.000Z"))
        yield* granted(other, renew("1990-01-03T00:00:00.000Z"))
        yield* granted(a, renew("1990-01-01T00:00:00.000Z"))
        yield* granted(broken, renew("1990-01-01T12:00:00.000Z"))
        yield* connections.setStatus(tenantA, broken.id, "error", "boom", new Date())
        yield* granted(later, renew("2030-01-01T00:00:00.000Z"))
        const before = new Date("1990-12-31T00:00:00.000Z")
        assert.deepStrictEqual(yield* s.due(before, 2), [
          { tenantId: tenantA, connectionId: a.id },
          { tenantId: tenantA, connectionId: b.id }
        ])
        assert.deepStrictEqual(yield* s.due(before, 10), [
          { tenantId: tenantA, connectionId: a.id },
          { tenantId: tenantA, connectionId: b.id },
          { tenantId: tenantB, connectionId: other.id }
        ])
      })
    )

    it.effect("remove deletes the pair and its pending pairs and marks the connection disconnected", () =>
      Effect.gen(function* () {
        const s = yield* TokenStore
        const connections = yield* ConnectionStore
        const c = oauthConnection()
        yield* granted(c, pair(42, { renewAt: new Date("1980-01-01T00:00:00.000Z") }))
        yield* s.savePending(tenantA, c.id, 1, sealed(80))
        const at = new Date("2026-11-04T00:00:00.000Z")
        yield* s.remove(tenantA, c.id, at)
        assert.isTrue(Option.isNone(yield* s.read(tenantA, c.id)))
        const found = yield* connections.find(tenantA, c.venueId, "quickbooks").pipe(Effect.map(Option.getOrThrow))
        assert.strictEqual(found.status, "disconnected")
        assert.deepStrictEqual(found.disconnectedAt, at)
        assert.isFalse((yield* s.due(new Date("1981-01-01T00:00:00.000Z"), 10)).some((d) => d.connectionId === c.id))
        yield* granted(connection(tenantA, c.venueId, "quickbooks"), pair(43))
        const fresh = yield* readSome(tenantA, c)
        assert.strictEqual(fresh.version, 1)
        assert.deepStrictEqual(fresh.pending, [])
      })
    )
  })

describe("TokenStore contract", () => {
  contract("memory", MemoryTokenStore.layer.pipe(Layer.provideMerge(MemoryConnectionStore.layer)))
  contract(
    "postgres",
    Layer.mergeAll(PostgresTokenStore.layer, PostgresConnectionStore.layer).pipe(Layer.provide(TestDatabase))
  )
})
