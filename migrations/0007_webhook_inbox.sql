-- Webhook ingestion: routing across tenants without giving the service role a
-- general row-level-security bypass, a quarantine for what belongs to no
-- tenant, and pending incremental-sync requests recorded by webhooks.

-- The inbox row keeps what the worker and the events API need, and the trace
-- context of the request that stored it, so even an event re-queued by the
-- reconciler is processed inside the webhook's trace. `requeues` makes each
-- manual retry a new queue message (the queue de-duplicates by message id).
ALTER TABLE webhook_events
  ADD COLUMN account_id   text,
  ADD COLUMN occurred_at  timestamptz,
  ADD COLUMN trace_parent text,
  ADD COLUMN requeues     integer NOT NULL DEFAULT 0;
CREATE INDEX webhook_events_unqueued ON webhook_events (received_at) WHERE status = 'received';
CREATE INDEX webhook_events_listing ON webhook_events (tenant_id, provider, received_at DESC, id DESC);

-- Authentic webhooks that belong to no tenant (seed: none): `unroutable` (a
-- verified event for an account no connection has) and `rejected` (a good
-- signature over a body that is not what the provider documents). A platform
-- table without tenant_id, hence without RLS: the service role may only
-- INSERT here, never read; operators inspect it as the owner.
CREATE TABLE webhook_quarantine (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider    text NOT NULL,
  reason      text NOT NULL CHECK (reason IN ('unroutable', 'rejected')),
  event_id    text,
  event_type  text,
  account_id  text,
  endpoint    text,
  detail      text,
  body        bytea NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, event_id)
);
GRANT INSERT ON webhook_quarantine TO integration_app;

-- Incremental syncs asked for by webhooks (QuickBooks entity changes, Square
-- catalog versions): one pending request per connection and entity type,
-- coalescing bursts; the sync engine claims and deletes them.
CREATE TABLE sync_requests (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed')),
  source        text NOT NULL,
  last_event_id text,
  events        integer NOT NULL DEFAULT 1,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
SELECT app_isolate_tenant_table('sync_requests');

-- The router: a role that cannot log in and owns only the three functions
-- below. Its policies let it read connections and endpoints (to route), insert
-- inbox rows and read those still waiting for the queue — nothing else, for no
-- other role. The service role only EXECUTEs the functions.
SELECT app_ensure_role('integration_webhook_router', false);
GRANT integration_webhook_router TO current_user;
GRANT USAGE ON SCHEMA public TO integration_webhook_router;
GRANT SELECT ON connections, webhook_endpoints TO integration_webhook_router;
GRANT SELECT, INSERT ON webhook_events TO integration_webhook_router;
GRANT INSERT, SELECT (provider, event_id) ON webhook_quarantine TO integration_webhook_router;
CREATE POLICY webhook_router ON connections FOR SELECT TO integration_webhook_router USING (true);
CREATE POLICY webhook_router ON webhook_endpoints FOR SELECT TO integration_webhook_router USING (true);
CREATE POLICY webhook_router_read ON webhook_events FOR SELECT TO integration_webhook_router USING (true);
CREATE POLICY webhook_router_insert ON webhook_events FOR INSERT TO integration_webhook_router WITH CHECK (true);

-- Group commit: a batch of verified events (a JSON array of
-- {provider, event_id, event_type, account_id, endpoint, occurred_at, payload, trace})
-- routed and stored in one statement. An event with `endpoint` is routed to
-- that endpoint's connection only; otherwise to the connection of its
-- provider account (a connected one first, then the newest). Duplicates
-- (within the batch too) change nothing. Answers one row per input, by
-- 0-based position: stored (new row), duplicate, or unroutable (quarantined).
CREATE FUNCTION webhook_ingest(p_events jsonb)
RETURNS TABLE (ord integer, outcome text, event_uuid uuid, tenant_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH input AS (
    SELECT (x.n - 1)::integer AS ord, x.e
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, n)
  ), routed AS (
    SELECT i.ord, i.e, i.e->>'provider' AS provider, i.e->>'event_id' AS event_id, c.tenant_id, c.id AS connection_id
    FROM input i
    LEFT JOIN webhook_endpoints w
      ON i.e->>'endpoint' IS NOT NULL AND w.public_id = i.e->>'endpoint'
      AND w.provider = i.e->>'provider' AND w.status = 'active'
    LEFT JOIN LATERAL (
      SELECT c.tenant_id, c.id FROM connections c
      WHERE c.provider = i.e->>'provider'
        AND CASE WHEN i.e->>'endpoint' IS NOT NULL
              THEN c.tenant_id = w.tenant_id AND c.id = w.connection_id
              ELSE c.account_id = i.e->>'account_id' END
      ORDER BY (c.status = 'connected') DESC, c.updated_at DESC
      LIMIT 1
    ) c ON true
  ), stored AS (
    INSERT INTO webhook_events AS s (id, tenant_id, connection_id, provider, event_id, event_type, status, payload,
      account_id, occurred_at, trace_parent)
    SELECT gen_random_uuid(), r.tenant_id, r.connection_id, r.provider, r.event_id, r.e->>'event_type', 'received',
      r.e->'payload', r.e->>'account_id', (r.e->>'occurred_at')::timestamptz, r.e->>'trace'
    FROM routed r WHERE r.tenant_id IS NOT NULL
    ON CONFLICT (tenant_id, provider, event_id) DO NOTHING
    RETURNING s.id, s.tenant_id, s.provider, s.event_id
  ), quarantined AS (
    INSERT INTO webhook_quarantine (provider, reason, event_id, event_type, account_id, endpoint, body)
    SELECT r.provider, 'unroutable', r.event_id, r.e->>'event_type', r.e->>'account_id', r.e->>'endpoint',
      convert_to((r.e->'payload')::text, 'UTF8')
    FROM routed r WHERE r.tenant_id IS NULL
    ON CONFLICT (provider, event_id) DO NOTHING
  )
  SELECT r.ord,
    CASE WHEN r.tenant_id IS NULL THEN 'unroutable' WHEN s.id IS NULL THEN 'duplicate' ELSE 'stored' END,
    s.id, r.tenant_id
  FROM routed r
  LEFT JOIN stored s ON s.tenant_id = r.tenant_id AND s.provider = r.provider AND s.event_id = r.event_id
  ORDER BY r.ord
$$;

-- The connection behind a registered endpoint's public id (the `?endpoint=`
-- of its URL), so only that connection's own webhook secret is tried.
CREATE FUNCTION webhook_endpoint_route(p_provider text, p_public_id text)
RETURNS TABLE (tenant_id uuid, connection_id uuid, venue_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT w.tenant_id, w.connection_id, c.venue_id
  FROM webhook_endpoints w
  JOIN connections c ON c.tenant_id = w.tenant_id AND c.id = w.connection_id
  WHERE w.public_id = p_public_id AND w.provider = p_provider AND w.status = 'active'
$$;

-- Inbox rows stored but never processed nor moved on, for the reconciler.
CREATE FUNCTION webhook_unqueued(p_older_than_ms integer, p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, provider text, requeues integer, trace_parent text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.id, e.tenant_id, e.provider, e.requeues, e.trace_parent
  FROM webhook_events e
  WHERE e.status = 'received' AND e.received_at < now() - make_interval(secs => p_older_than_ms / 1000.0)
  ORDER BY e.received_at
  LIMIT p_limit
$$;

ALTER FUNCTION webhook_ingest(jsonb) OWNER TO integration_webhook_router;
ALTER FUNCTION webhook_endpoint_route(text, text) OWNER TO integration_webhook_router;
ALTER FUNCTION webhook_unqueued(integer, integer) OWNER TO integration_webhook_router;
REVOKE ALL ON FUNCTION webhook_ingest(jsonb), webhook_endpoint_route(text, text), webhook_unqueued(integer, integer)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_ingest(jsonb), webhook_endpoint_route(text, text), webhook_unqueued(integer, integer)
  TO integration_app;
