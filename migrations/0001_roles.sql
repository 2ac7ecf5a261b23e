-- The service connects as integration_app, which owns nothing, so forced
-- row-level security applies to every query it makes. Roles are cluster-wide:
-- create it once, whichever database migrates first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'integration_app') THEN
    CREATE ROLE integration_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- another database's migration created it a moment ago
END
$$;

-- Only migrations (the owner) create objects here.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO integration_app;

-- The tenant of the current transaction, or NULL when none is set: every
-- policy compares against this, so a query without a tenant sees nothing.
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;
