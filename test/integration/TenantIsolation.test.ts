import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import { withTenant } from "../../adapters/postgres/TenantTransaction.ts"
import { TenantId } from "../../domain/Ids.ts"
import { newId } from "../support/Fixtures.ts"
import { OwnerSql, TestDatabase } from "../support/TestDatabase.ts"

/** One row of each tenant table for a tenant, in dependency order (`p` is bound by withParams). */
const seeds: Record<string, string> = {
  connections: `INSERT INTO connections (id, tenant_id, venue_id, provider, auth_type, status)
    SELECT p.id, p.t, gen_random_uuid(), 'stripe', 'api_key', 'connected'`,
  credentials: `INSERT INTO credentials (tenant_id, connection_id, venue_id, provider, field, ciphertext, iv, wrapped_key, key_id)
    SELECT p.t, p.conn, gen_random_uuid(), 'stripe', 'api_key', '\\x01', '\\x02', '\\x03', 'k'`,
  integration_health: `INSERT INTO integration_health (tenant_id, connection_id, status) SELECT p.t, p.conn, 'unknown'
    ON CONFLICT DO NOTHING`,
  field_mappings: `INSERT INTO field_mappings (tenant_id, connection_id, entity_type, direction, version, rules, updated_by)
    SELECT p.t, p.conn, 'customer', 'inbound', 1, '[]', 'u' ON CONFLICT DO NOTHING`,
  field_mapping_versions: `INSERT INTO field_mapping_versions (tenant_id, connection_id, entity_type, direction, version,
    rules, updated_by) SELECT p.t, p.conn, 'customer', 'inbound', 1 + (random() * 1e6)::int, '[]', 'u' ON CONFLICT DO NOTHING`,
  tenant_mapping_templates: `INSERT INTO tenant_mapping_templates (id, tenant_id, provider, entity_type, direction, name,
    rules, created_by) SELECT p.id, p.t, 'stripe', 'customer', 'inbound', 'template ' || p.id, '[]', 'u'`,
  sync_jobs: `INSERT INTO sync_jobs (id, tenant_id, connection_id, venue_id, provider, entity_type, direction, mode,
    priority, status, idempotency_key, requested_by)
    SELECT p.job, p.t, p.conn, gen_random_uuid(), 'stripe', 'customer', 'inbound', 'full', 'normal', 'completed', p.id, 'u'`,
  sync_logs: `INSERT INTO sync_logs (tenant_id, job_id, level, message) SELECT p.t, p.job, 'info', 'page ' || p.id`,
  sync_cursors: `INSERT INTO sync_cursors (tenant_id, connection_id, entity_type, direction, watermark)
    SELECT p.t, p.conn, 'customer_' || p.id, 'inbound', now()`,
  synced_records: `INSERT INTO synced_records (tenant_id, connection_id, entity_type, external_id, raw, content_hash, data,
    mapping_version, change, change_seq) SELECT p.t, p.conn, 'customer', p.id, '{}', 'h', '{}', 0, 'added', 1`,
  sync_schedules: `INSERT INTO sync_schedules (tenant_id, connection_id, next_run_at) SELECT p.t, p.conn, now()
    ON CONFLICT DO NOTHING`,
  sync_requests: `INSERT INTO sync_requests (tenant_id, connection_id, entity_type, source)
    SELECT p.t, p.conn, 'customer', 'webhook:' || p.id ON CONFLICT DO NOTHING`,
  platform_records: `INSERT INTO platform_records (tenant_id, venue_id, entity_type, id, version, data, change_seq)
    SELECT p.t, gen_random_uuid(), 'customer', p.id, 1, '{}', 1`,
  integration_costs: `INSERT INTO integration_costs (tenant_id, connection_id, day, api_calls)
    SELECT p.t, p.conn, DATE '2026-01-01' + (random() * 3000)::int, 1 ON CONFLICT DO NOTHING`,
  webhook_endpoints: `INSERT INTO webhook_endpoints (tenant_id, connection_id, provider, public_id, url)
    SELECT p.t, p.conn, 'stripe', p.id, 'https://example.test/' || p.id ON CONFLICT DO NOTHING`,
  webhook_events: `INSERT INTO webhook_events (id, tenant_id, provider, event_id, event_type, status, body)
    SELECT p.id, p.t, 'stripe', p.id, 'customer.created', 'received', '{}'`,
  oauth_states: `INSERT INTO oauth_states (state_hash, tenant_id, venue_id, provider, user_id, redirect_uri, expires_at)
    SELECT decode(md5(p.id::text), 'hex'), p.t, gen_random_uuid(), 'square', 'u', 'https://x.test', now()`,
  oauth_tokens: `INSERT INTO oauth_tokens (tenant_id, connection_id, provider, version, obtained_at, has_refresh_token)
    SELECT p.t, p.conn, 'square', 1, now(), true ON CONFLICT DO NOTHING`,
  oauth_pending_tokens: `INSERT INTO oauth_pending_tokens (id, tenant_id, connection_id, base_version, ciphertext, iv,
    wrapped_key, key_id) SELECT p.id, p.t, p.conn, 1, '\\x01', '\\x02', '\\x03', 'k'`,
  api_idempotency_keys: `INSERT INTO api_idempotency_keys (tenant_id, method, path, key, fingerprint, token, expires_at)
    SELECT p.t, 'POST', '/api/v1/integrations/connect/stripe', p.id::text, 'f', gen_random_uuid(), now() + interval '1 day'`,
  provider_call_minutes: `INSERT INTO provider_call_minutes (tenant_id, connection_id, provider, operation, minute, outcome,
    calls, latency_ms, latency_max_ms, latency_buckets)
    SELECT p.t, p.conn, 'stripe', 'op_' || p.id, now(), 'ok', 1, 10, 10, '{1,0,0,0,0,0,0,0,0,0,0,0,0}'`,
  provider_call_hours: `INSERT INTO provider_call_hours (tenant_id, connection_id, provider, operation, hour, outcome,
    calls, latency_ms, latency_max_ms, latency_buckets)
    SELECT p.t, p.conn, 'stripe', 'op_' || p.id, date_trunc('hour', now()), 'ok', 1, 10, 10, '{1,0,0,0,0,0,0,0,0,0,0,0,0}'`,
  sync_conflict_policies: `INSERT INTO sync_conflict_policies (tenant_id, connection_id, entity_type, policy, updated_by)
    SELECT p.t, p.conn, 'customer_' || p.id, 'latest_wins', 'u'`,
  provider_call_days: `INSERT INTO provider_call_days (tenant_id, connection_id, provider, operation, day, outcome, calls,
    latency_ms, latency_max_ms, latency_buckets)
    SELECT p.t, p.conn, 'stripe', 'op_' || p.id, current_date, 'ok', 1, 10, 10, '{1,0,0,0,0,0,0,0,0,0,0,0,0}'`,
  health_checks: `INSERT INTO health_checks (tenant_id, connection_id, provider, outcome, latency_ms, checked_at)
    SELECT p.t, p.conn, 'stripe', 'ok', 12, now()`,
  connection_health_states: `INSERT INTO connection_health_states (tenant_id, connection_id, status, since, updated_at)
    SELECT p.t, p.conn, 'healthy', now(), now() ON CONFLICT DO NOTHING`,
  health_schedules: `INSERT INTO health_schedules (tenant_id, connection_id, next_check_at) SELECT p.t, p.conn, now()
    ON CONFLICT DO NOTHING`,
  notification_outbox: `INSERT INTO notification_outbox (id, tenant_id, type, body, status)
    SELECT p.id, p.t, 'connection.health_changed', '{}', 'skipped'`,
  integration_events: `INSERT INTO integration_events (id, tenant_id, type, connection_id, payload)
    SELECT p.id, p.t, 'connection.needs_reauth', p.conn, '{}'`
}

/** Binds the seed's parameters: tenant, a fresh id, the tenant's connection, its sync job. */
const withParams = (insert: string) =>
  insert
    .replace(/\n {4}SELECT /, "\n    SELECT ")
    .replace(
      /SELECT (.*?)(?=( ON CONFLICT|$))/s,
      (select) => `${select} FROM (SELECT $1::uuid AS t, $2::uuid AS id, $3::uuid AS conn, $4::uuid AS job) p`
    )

/** 42501: "new row violates row-level security policy". */
const rlsViolation = (error: unknown): boolean =>
  error instanceof SqlError.SqlError &&
  error.reason._tag === "AuthorizationError" &&
  /row-level security/.test(String((error.reason.cause as { message?: string } | undefined)?.message))

const tenantA = TenantId.make("aaaaaaaa-0000-4000-8000-00000000000a")
const tenantB = TenantId.make("bbbbbbbb-0000-4000-8000-00000000000b")

interface Seeded {
  readonly connection: string
  readonly job: string
}

const Databases = OwnerSql.layer.pipe(Layer.provideMerge(TestDatabase))

layer(Databases, { timeout: "60 seconds" })("row-level security", (it) => {
  const seed = (owner: SqlClient.SqlClient, tenant: TenantId, conn: string, job: string, table: string) =>
    owner.unsafe(withParams(seeds[table]!), [
      tenant,
      table === "connections" ? conn : table === "sync_jobs" ? job : newId(),
      conn,
      job
    ])

  const seedAll = (owner: SqlClient.SqlClient, tenant: TenantId): Effect.Effect<Seeded, unknown> =>
    Effect.gen(function* () {
      const ids = { connection: newId(), job: newId() }
      for (const table of Object.keys(seeds)) yield* seed(owner, tenant, ids.connection, ids.job, table)
      return ids
    })

  it.effect("every table with a tenant_id has RLS enabled, forced and a policy; the service role owns nothing", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const tables = yield* sql<{ relname: string; rls: boolean; forced: boolean; policies: number; owner: string }>`
        SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
          (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
          pg_get_userbyid(c.relowner) AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
        ORDER BY c.relname`
      assert.deepStrictEqual(
        tables.map((t) => t.relname),
        Object.keys(seeds).sort()
      )
      for (const t of tables) {
        assert.isTrue(t.rls && t.forced && t.policies >= 1, `${t.relname} must have forced RLS and a policy`)
        assert.notStrictEqual(t.owner, "integration_app", `${t.relname} must not be owned by the service role`)
      }
    })
  )

  it.effect("the service role cannot step around RLS: no BYPASSRLS, no superuser, member of no other role", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [role] = yield* sql<{ rolsuper: boolean; rolbypassrls: boolean; memberOf: number }>`
        SELECT rolsuper, rolbypassrls,
          (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS member_of
        FROM pg_roles r WHERE rolname = 'integration_app'`
      assert.deepStrictEqual(role, { rolsuper: false, rolbypassrls: false, memberOf: 0 })
    })
  )

  for (const table of Object.keys(seeds)) {
    it.effect(`${table}: tenant A cannot read, update, delete or insert tenant B's rows`, () =>
      Effect.gen(function* () {
        const app = yield* SqlClient.SqlClient
        const owner = yield* OwnerSql
        const a = yield* seedAll(owner, tenantA)
        const b = yield* seedAll(owner, tenantB)
        const asA = <X>(self: Effect.Effect<X, unknown>) => self.pipe(withTenant(app, tenantA))
        const count = (tenant: TenantId) =>
          app.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenant])

        // A sees its own rows, so a zero below is isolation, not an empty table.
        assert.isTrue((yield* asA(count(tenantA)))[0]!.n >= 1)
        assert.strictEqual((yield* asA(count(tenantB)))[0]!.n, 0)
        const updated = yield* asA(
          app.unsafe(`UPDATE ${table} SET tenant_id = tenant_id WHERE tenant_id = $1 RETURNING 1`, [tenantB])
        )
        assert.strictEqual(updated.length, 0)
        const deleted = yield* asA(app.unsafe(`DELETE FROM ${table} WHERE tenant_id = $1 RETURNING 1`, [tenantB]))
        assert.strictEqual(deleted.length, 0)
        const ownerCount = yield* owner.unsafe<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`,
          [tenantB]
        )
        assert.isTrue(ownerCount[0]!.n >= 1, "tenant B's rows are all still there")

        const insertForB = yield* asA(seed(app, tenantB, b.connection, b.job, table)).pipe(Effect.flip)
        assert.strictEqual(rlsViolation(insertForB), true, `insert for B into ${table} must be refused by RLS`)
        const moveToB = yield* asA(
          app.unsafe(`UPDATE ${table} SET tenant_id = $1 WHERE tenant_id = $2`, [tenantB, tenantA])
        ).pipe(Effect.flip)
        assert.strictEqual(rlsViolation(moveToB), true, `moving A's rows of ${table} to B must be refused by RLS`)
        assert.ok(a.connection)

        // Without a tenant in the transaction the service role sees nothing at all.
        const none = yield* app.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
        assert.strictEqual(none[0]!.n, 0)
      })
    )
  }

  it.effect("the admin read models: a tenant's call sees its rows; the operator's path every tenant's, read-only", () =>
    Effect.gen(function* () {
      const app = yield* SqlClient.SqlClient
      const owner = yield* OwnerSql
      yield* seedAll(owner, tenantA)
      yield* seedAll(owner, tenantB)
      const tenantsOf = (rows: ReadonlyArray<{ tenantId: string }>) => [...new Set(rows.map((r) => r.tenantId))].sort()
      const mine = yield* app<{
        tenantId: string
      }>`SELECT tenant_id FROM ops_venues(NULL, NULL, NULL, NULL, NULL, 1000)`.pipe(withTenant(app, tenantA))
      assert.deepStrictEqual(tenantsOf(mine), [tenantA])
      const all = yield* app<{
        tenantId: string
      }>`SELECT tenant_id FROM ops_venues_all(NULL, NULL, NULL, NULL, NULL, 1000)`
      assert.includeMembers(tenantsOf(all), [tenantA, tenantB])
      // The operator reader only reads: it holds no write privilege on any table.
      const writes = yield* owner<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.role_table_grants
        WHERE grantee = 'integration_operator_reader' AND privilege_type <> 'SELECT'`
      assert.strictEqual(writes[0]!.n, 0)
      // Operator actions are written by the service, never read back by it.
      const read = yield* app`SELECT * FROM operator_actions`.pipe(Effect.flip)
      assert.isTrue(
        read instanceof SqlError.SqlError &&
          /permission denied/.test(String((read.reason.cause as { message?: string } | undefined)?.message)),
        String(read)
      )
    })
  )
})
