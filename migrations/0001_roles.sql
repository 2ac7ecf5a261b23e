-- Roles are cluster-wide: each is created once, by whichever database
-- migrates first; a concurrent migration creating it a moment earlier is fine.
CREATE FUNCTION app_ensure_role(name text, login boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
    EXECUTE format(
      'CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
      name,
      CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END
    );
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
REVOKE ALL ON FUNCTION app_ensure_role(text, boolean) FROM PUBLIC;

-- The service connects as integration_app, which owns nothing, so forced
-- row-level security applies to every query it makes.
SELECT app_ensure_role('integration_app', true);

-- Only migrations (the owner) create objects here.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO integration_app;

-- The tenant of the current transaction, or NULL when none is set: every
-- policy compares against this, so a query without a tenant sees nothing.
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;
