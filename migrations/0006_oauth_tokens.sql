-- The lifecycle of each OAuth connection's token pair (seed: oauth_tokens).
-- The ciphertexts stay in credentials (access_token, refresh_token), so
-- master-key rotation covers them; this row holds the clock and is the
-- refresh lock: a refresh holds it FOR UPDATE across the provider call, and
-- version grows with every new pair.
CREATE TABLE oauth_tokens (
  tenant_id          uuid NOT NULL,
  connection_id      uuid NOT NULL,
  provider           text NOT NULL CHECK (provider IN ('square', 'mailchimp', 'quickbooks')),
  version            integer NOT NULL,
  obtained_at        timestamptz NOT NULL,
  expires_at         timestamptz,
  refresh_expires_at timestamptz,
  has_refresh_token  boolean NOT NULL,
  -- When the background refresher renews it without traffic; NULL = never.
  renew_at           timestamptz,
  scopes             text[] NOT NULL DEFAULT '{}',
  extra              jsonb NOT NULL DEFAULT '{}',
  last_refresh_error text,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_tokens_renew_at ON oauth_tokens (renew_at) WHERE renew_at IS NOT NULL;

-- A refreshed pair, committed on its own right after the provider answers and
-- before the refresh's main write: if that write never commits, the next
-- refresh promotes this pair instead of presenting a rotated-away token.
-- Only a pair whose base_version is the current version counts.
CREATE TABLE oauth_pending_tokens (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  base_version  integer NOT NULL,
  ciphertext    bytea NOT NULL,
  iv            bytea NOT NULL,
  wrapped_key   bytea NOT NULL,
  key_id        text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES oauth_tokens (tenant_id, connection_id) ON DELETE CASCADE
);
CREATE INDEX oauth_pending_tokens_connection ON oauth_pending_tokens (tenant_id, connection_id, base_version);

-- Domain events for other parts of the system (outbox), e.g.
-- connection.needs_reauth; listeners also get a NOTIFY on integration_events.
CREATE TABLE integration_events (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  type          text NOT NULL,
  connection_id uuid,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integration_events_created ON integration_events (tenant_id, created_at);

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY['oauth_tokens', 'oauth_pending_tokens', 'integration_events']) AS t;

-- The OAuth router: a role that cannot log in and owns only the two functions
-- below. Its policies let it take states and list due token pairs across
-- tenants, nothing else, for no other role. The service role only EXECUTEs.
SELECT app_ensure_role('integration_oauth_router', false);
GRANT integration_oauth_router TO current_user;
GRANT USAGE ON SCHEMA public TO integration_oauth_router;
GRANT SELECT, DELETE ON oauth_states TO integration_oauth_router;
GRANT SELECT ON oauth_tokens, connections TO integration_oauth_router;
CREATE POLICY oauth_router ON oauth_states FOR SELECT TO integration_oauth_router USING (true);
CREATE POLICY oauth_router_delete ON oauth_states FOR DELETE TO integration_oauth_router USING (true);
CREATE POLICY oauth_router ON oauth_tokens FOR SELECT TO integration_oauth_router USING (true);
CREATE POLICY oauth_router ON connections FOR SELECT TO integration_oauth_router USING (true);

-- The OAuth callback carries no tenant (the state is its only credential):
-- consume the state by its hash, atomically and once, for the provider it
-- was issued for and only while it is valid, and return what it is bound to.
-- Expired states are swept on the way.
CREATE FUNCTION oauth_consume_state(p_hash bytea, p_provider text)
RETURNS TABLE (tenant_id uuid, venue_id uuid, provider text, user_id text, code_verifier text, redirect_uri text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  DELETE FROM oauth_states s WHERE s.expires_at < now() - interval '1 day';
  RETURN QUERY
    DELETE FROM oauth_states s
    WHERE s.state_hash = p_hash AND s.provider = p_provider AND s.expires_at > now()
    RETURNING s.tenant_id, s.venue_id, s.provider, s.user_id, s.code_verifier, s.redirect_uri;
END
$$;

-- Connected OAuth connections whose tokens are due for renewal, across
-- tenants, for the background refresher: ids only, never a secret.
CREATE FUNCTION oauth_tokens_due(p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.tenant_id, t.connection_id
  FROM oauth_tokens t JOIN connections c ON c.tenant_id = t.tenant_id AND c.id = t.connection_id
  WHERE t.renew_at <= p_before AND c.status = 'connected'
  ORDER BY t.renew_at
  LIMIT p_limit
$$;

ALTER FUNCTION oauth_consume_state(bytea, text) OWNER TO integration_oauth_router;
ALTER FUNCTION oauth_tokens_due(timestamptz, integer) OWNER TO integration_oauth_router;
REVOKE ALL ON FUNCTION oauth_consume_state(bytea, text), oauth_tokens_due(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_consume_state(bytea, text), oauth_tokens_due(timestamptz, integer)
  TO integration_app;
