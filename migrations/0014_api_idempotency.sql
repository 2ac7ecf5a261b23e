-- The API's idempotency keys (issue 10): a state-changing request with an
-- Idempotency-Key claims (tenant, method, path, key) before it runs, with the
-- fingerprint of its body; its answer is stored once it is given, and a repeat
-- is answered from here. A row without a status is a request still running
-- (or abandoned: locked_at tells). Rows live until expires_at (API_IDEMPOTENCY_TTL,
-- 24 h by default) and are then deleted by app_prune_api_idempotency.
CREATE TABLE api_idempotency_keys (
  tenant_id    uuid NOT NULL,
  method       text NOT NULL,
  path         text NOT NULL,
  key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  -- sha-256 (hex) of the query string and body.
  fingerprint  text NOT NULL,
  -- Names the claim: only the request that claimed the key stores its answer or releases it.
  token        uuid NOT NULL,
  locked_at    timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  status       integer CHECK (status BETWEEN 100 AND 499),
  content_type text,
  body         bytea,
  PRIMARY KEY (tenant_id, method, path, key)
);
-- Pruning deletes by age across tenants; keysHeld counts a tenant's live keys.
CREATE INDEX api_idempotency_keys_expiry ON api_idempotency_keys (expires_at);

SELECT app_isolate_tenant_table('api_idempotency_keys');

-- The pruner: a role that cannot log in and owns only the function below, so
-- the service role deletes other tenants' expired keys without reading them.
SELECT app_ensure_role('integration_idempotency_pruner', false);
GRANT integration_idempotency_pruner TO current_user;
GRANT USAGE ON SCHEMA public TO integration_idempotency_pruner;
GRANT SELECT, DELETE ON api_idempotency_keys TO integration_idempotency_pruner;
CREATE POLICY idempotency_pruner ON api_idempotency_keys TO integration_idempotency_pruner USING (true);

CREATE FUNCTION app_prune_api_idempotency()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH d AS (DELETE FROM api_idempotency_keys WHERE expires_at <= now() RETURNING 1)
  SELECT count(*)::integer FROM d
$$;
REVOKE ALL ON FUNCTION app_prune_api_idempotency() FROM PUBLIC;
ALTER FUNCTION app_prune_api_idempotency() OWNER TO integration_idempotency_pruner;
GRANT EXECUTE ON FUNCTION app_prune_api_idempotency() TO integration_app;
