-- Every tenant table: RLS enabled and forced, one policy on app.tenant_id for
-- reads and writes, and DML (never DDL) for the service role.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'connections', 'credentials', 'integration_health', 'field_mappings', 'sync_jobs', 'sync_logs',
    'sync_cursors', 'synced_records', 'platform_records', 'integration_costs', 'webhook_endpoints',
    'webhook_events', 'oauth_states'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
      t
    );
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO integration_app', t);
  END LOOP;
END
$$;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO integration_app;
