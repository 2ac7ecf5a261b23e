-- Makes a table a tenant table: RLS enabled and forced, one policy on
-- app.tenant_id for reads and writes, and DML (never DDL) for the service
-- role. Later migrations call it for every tenant table they add.
CREATE FUNCTION app_isolate_tenant_table(t text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
    t
  );
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO integration_app', t);
END
$$;
REVOKE ALL ON FUNCTION app_isolate_tenant_table(text) FROM PUBLIC;

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY[
  'connections', 'credentials', 'integration_health', 'field_mappings', 'sync_jobs', 'sync_logs',
  'sync_cursors', 'synced_records', 'platform_records', 'integration_costs', 'webhook_endpoints',
  'webhook_events', 'oauth_states'
]) AS t;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO integration_app;
