-- An event for a provider account goes to every connection that proved that
-- account (several venues of one Square merchant, or one account connected by
-- two tenants that each proved it), each copy de-duplicated on its own: the
-- inbox's uniqueness moves from (tenant, provider, event) to (tenant,
-- connection, provider, event). Routing no longer picks "the newest"
-- connection. A disconnected connection keeps its copies (a late redelivery
-- of the event that disconnected it is a duplicate, not unroutable).
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_tenant_id_provider_event_id_key;
CREATE UNIQUE INDEX webhook_events_copy ON webhook_events (tenant_id, connection_id, provider, event_id)
  NULLS NOT DISTINCT;

-- Each event keeps the signed bytes exactly as received (`body`): the whole
-- delivery for a single-event delivery (every Stripe, Square and Mailchimp
-- one), the event's own JSON for a delivery of several (QuickBooks). JSON with
-- a NUL (\u0000) or a lone surrogate is valid JSON and valid at the provider,
-- but no jsonb: storing bytes refuses nothing, which a refusal (and the
-- provider's retries for days) would. The payload is parsed where it is read;
-- keeping a jsonb copy as well measured 1.6x the database work per event.
ALTER TABLE webhook_events ADD COLUMN body bytea;
UPDATE webhook_events SET body = convert_to(payload::text, 'UTF8');
ALTER TABLE webhook_events ALTER COLUMN body SET NOT NULL, DROP COLUMN payload;

DROP FUNCTION webhook_ingest(jsonb);

-- Group commit, as in 0007, but one row per routed copy: an input routed to
-- three connections answers three rows with its position (stored or
-- duplicate, each with its tenant and connection), an unroutable one answers
-- one row (quarantined). Each element carries `body`, the event's bytes in
-- base64.
CREATE FUNCTION webhook_ingest(p_events jsonb)
RETURNS TABLE (ord integer, outcome text, event_uuid uuid, tenant_id uuid, connection_id uuid)
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
    ) c ON true
  ), stored AS (
    INSERT INTO webhook_events AS s (id, tenant_id, connection_id, provider, event_id, event_type, status, body,
      account_id, occurred_at, trace_parent)
    SELECT gen_random_uuid(), r.tenant_id, r.connection_id, r.provider, r.event_id, r.e->>'event_type', 'received',
      decode(r.e->>'body', 'base64'), r.e->>'account_id', (r.e->>'occurred_at')::timestamptz, r.e->>'trace'
    FROM routed r WHERE r.tenant_id IS NOT NULL
    ON CONFLICT (tenant_id, connection_id, provider, event_id) DO NOTHING
    RETURNING s.id, s.tenant_id, s.connection_id, s.provider, s.event_id
  ), quarantined AS (
    INSERT INTO webhook_quarantine (provider, reason, event_id, event_type, account_id, endpoint, body)
    SELECT r.provider, 'unroutable', r.event_id, r.e->>'event_type', r.e->>'account_id', r.e->>'endpoint',
      decode(r.e->>'body', 'base64')
    FROM routed r WHERE r.tenant_id IS NULL
    ON CONFLICT (provider, event_id) DO NOTHING
  )
  SELECT r.ord,
    CASE WHEN r.tenant_id IS NULL THEN 'unroutable' WHEN s.id IS NULL THEN 'duplicate' ELSE 'stored' END,
    s.id, r.tenant_id, r.connection_id
  FROM routed r
  LEFT JOIN stored s ON s.tenant_id = r.tenant_id AND s.connection_id = r.connection_id
    AND s.provider = r.provider AND s.event_id = r.event_id
  ORDER BY r.ord
$$;

ALTER FUNCTION webhook_ingest(jsonb) OWNER TO integration_webhook_router;
REVOKE ALL ON FUNCTION webhook_ingest(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_ingest(jsonb) TO integration_app;
