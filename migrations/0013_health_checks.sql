-- Health monitoring and notifications (issue 10).

-- The recent checks of each connection: the window the health rules read.
-- Only the newest few per connection are kept (the monitor prunes on insert).
CREATE TABLE health_checks (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  provider      text NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN
    ('ok', 'auth_refused', 'rate_limited', 'server_error', 'timeout', 'unreachable', 'client_error')),
  latency_ms    double precision NOT NULL,
  checked_at    timestamptz NOT NULL,
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX health_checks_connection ON health_checks (tenant_id, connection_id, checked_at DESC, id DESC);
CREATE INDEX health_checks_recent ON health_checks (checked_at, provider);

-- What the health rules last said about each connection, and what was last
-- notified: an event goes out when the status differs from notified_status,
-- so a failure swallowed by a provider outage is notified once it outlasts it.
CREATE TABLE connection_health_states (
  tenant_id             uuid NOT NULL,
  connection_id         uuid NOT NULL,
  status                text NOT NULL CHECK (status IN
    ('healthy', 'degraded', 'unhealthy', 'rate_limited', 'needs_reauth', 'disconnected')),
  notified_status       text,
  reasons               text[] NOT NULL DEFAULT '{}',
  consecutive_failures  integer NOT NULL DEFAULT 0,
  error_rate            double precision,
  p95_latency_ms        double precision,
  credential_expires_at timestamptz,
  since                 timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- When each connection is next checked. Each gets its own offset in the
-- interval, so checks spread over it instead of bunching at the tick.
CREATE TABLE health_schedules (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  next_check_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX health_schedules_due ON health_schedules (next_check_at);

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY['health_checks', 'connection_health_states', 'health_schedules']) AS t;

-- The provider-level view (platform data, no tenant): an outage is one row and one notification.
CREATE TABLE provider_health (
  provider   text PRIMARY KEY REFERENCES integrations (provider),
  status     text NOT NULL CHECK (status IN ('operational', 'outage')),
  since      timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
GRANT SELECT ON provider_health TO integration_app;

-- Notifications to NOTIFY_WEBHOOK_URL: every integration_events row (by the
-- trigger below, in the publishing transaction) and every provider outage.
-- id is the Standard Webhooks `webhook-id`; body is the exact bytes signed.
-- A delivery is claimed with a lease (locked_until), so one process sends it.
CREATE TABLE notification_outbox (
  id              uuid PRIMARY KEY,
  tenant_id       uuid,
  type            text NOT NULL,
  body            text NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'skipped')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';
-- A tenant sees its own notifications; provider outages (no tenant) only the monitor's functions see.
SELECT app_isolate_tenant_table('notification_outbox');

-- The health monitor: a role that cannot log in and owns only the functions
-- below, which read across tenants what is due and what failed together, and
-- move notifications. The service role only EXECUTEs them.
SELECT app_ensure_role('integration_health_monitor', false);
GRANT integration_health_monitor TO current_user;
GRANT USAGE ON SCHEMA public TO integration_health_monitor;
GRANT SELECT ON connections, connection_health_states, health_checks TO integration_health_monitor;
GRANT SELECT, INSERT, UPDATE ON health_schedules TO integration_health_monitor;
GRANT SELECT, INSERT, UPDATE ON provider_health, notification_outbox TO integration_health_monitor;
CREATE POLICY health_monitor ON connections FOR SELECT TO integration_health_monitor USING (true);
CREATE POLICY health_monitor ON connection_health_states FOR SELECT TO integration_health_monitor USING (true);
CREATE POLICY health_monitor ON health_checks FOR SELECT TO integration_health_monitor USING (true);
CREATE POLICY health_monitor ON health_schedules TO integration_health_monitor USING (true) WITH CHECK (true);
CREATE POLICY health_monitor ON notification_outbox TO integration_health_monitor USING (true) WITH CHECK (true);

-- Connections due a check, claimed by exactly one caller. A new connection
-- gets a random offset in the interval; each claimed one moves a whole
-- interval on, keeping its offset unless it fell behind. Disconnected ones
-- are handed out until their state says disconnected (that transition is
-- notified once), then never again.
CREATE FUNCTION app_claim_due_health_checks(p_interval interval, p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid, venue_id uuid, provider text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO health_schedules (tenant_id, connection_id, next_check_at)
  SELECT c.tenant_id, c.id, now() + p_interval * random() FROM connections c WHERE c.status <> 'disconnected'
  ON CONFLICT DO NOTHING;
  WITH due AS (
    SELECT s.tenant_id, s.connection_id, c.venue_id, c.provider FROM health_schedules s
    JOIN connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id
    LEFT JOIN connection_health_states h ON h.tenant_id = s.tenant_id AND h.connection_id = s.connection_id
    WHERE s.next_check_at <= now()
      AND (c.status <> 'disconnected' OR h.status IS DISTINCT FROM 'disconnected')
    ORDER BY s.next_check_at
    LIMIT p_limit
    FOR UPDATE OF s SKIP LOCKED
  )
  UPDATE health_schedules s SET next_check_at = CASE
      WHEN s.next_check_at + p_interval > now() THEN s.next_check_at + p_interval
      ELSE now() + p_interval * random() END
  FROM due WHERE s.tenant_id = due.tenant_id AND s.connection_id = due.connection_id
  RETURNING s.tenant_id, s.connection_id, due.venue_id, due.provider;
$$;

-- Per provider, the connections checked since p_since and how many of them
-- failed on the provider's side at their latest check: the outage view.
CREATE FUNCTION app_provider_health_window(p_since timestamptz)
RETURNS TABLE (provider text, connections integer, failing integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT latest.provider, count(*)::integer,
    count(*) FILTER (WHERE latest.outcome IN ('server_error', 'timeout', 'unreachable'))::integer
  FROM (
    SELECT DISTINCT ON (k.tenant_id, k.connection_id) k.provider, k.outcome
    FROM health_checks k WHERE k.checked_at >= p_since
    ORDER BY k.tenant_id, k.connection_id, k.checked_at DESC, k.id DESC
  ) latest
  GROUP BY latest.provider;
$$;

-- Sets a provider's status; only a change enqueues its notification (one per
-- outage start and end, whoever notices first). Answers whether it changed.
CREATE FUNCTION app_set_provider_status(p_provider text, p_status text, p_event_id uuid, p_type text, p_body text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  previous text;
BEGIN
  INSERT INTO provider_health (provider, status, since, updated_at)
  VALUES (p_provider, 'operational', now(), now()) ON CONFLICT DO NOTHING;
  SELECT status INTO previous FROM provider_health WHERE provider = p_provider FOR UPDATE;
  IF previous = p_status THEN
    UPDATE provider_health SET updated_at = now() WHERE provider = p_provider;
    RETURN false;
  END IF;
  UPDATE provider_health SET status = p_status, since = now(), updated_at = now() WHERE provider = p_provider;
  INSERT INTO notification_outbox (id, tenant_id, type, body) VALUES (p_event_id, NULL, p_type, p_body);
  RETURN true;
END
$$;

-- Every published event becomes a notification in the same transaction, so
-- no path that publishes (needs_reauth from a refresh, a reconnect, a
-- webhook; a health transition) can skip it. The body follows the Standard
-- Webhooks payload shape: type, timestamp, data.
CREATE FUNCTION app_enqueue_event_notification() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO notification_outbox (id, tenant_id, type, body)
  VALUES (NEW.id, NEW.tenant_id, NEW.type, jsonb_build_object(
    'type', NEW.type,
    'timestamp', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', jsonb_build_object('eventId', NEW.id, 'tenantId', NEW.tenant_id, 'connectionId', NEW.connection_id)
      || NEW.payload
  )::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER integration_events_notify AFTER INSERT ON integration_events
  FOR EACH ROW EXECUTE FUNCTION app_enqueue_event_notification();

-- Up to p_limit deliveries due now, each leased to this caller for p_lease:
-- SKIP LOCKED and the lease make every delivery go out from one process at a
-- time. The attempt is counted when claimed, so a crash mid-send still counts.
CREATE FUNCTION app_claim_notifications(p_limit integer, p_lease interval)
RETURNS TABLE (id uuid, type text, body text, attempts integer, created_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH due AS (
    SELECT o.id FROM notification_outbox o
    WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND (o.locked_until IS NULL OR o.locked_until < now())
    ORDER BY o.next_attempt_at, o.created_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  )
  UPDATE notification_outbox o SET locked_until = now() + p_lease, attempts = o.attempts + 1
  FROM due WHERE o.id = due.id
  RETURNING o.id, o.type, o.body, o.attempts, o.created_at;
$$;

-- The end of one attempt: delivered, skipped (no URL configured), dead, or
-- pending again from p_next_attempt_at.
CREATE FUNCTION app_finish_notification(p_id uuid, p_status text, p_error text, p_next_attempt_at timestamptz)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE notification_outbox SET status = p_status, last_error = p_error, locked_until = NULL,
    next_attempt_at = coalesce(p_next_attempt_at, next_attempt_at),
    finished_at = CASE WHEN p_status = 'pending' THEN NULL ELSE now() END
  WHERE id = p_id;
$$;

ALTER FUNCTION app_claim_due_health_checks(interval, integer) OWNER TO integration_health_monitor;
ALTER FUNCTION app_provider_health_window(timestamptz) OWNER TO integration_health_monitor;
ALTER FUNCTION app_set_provider_status(text, text, uuid, text, text) OWNER TO integration_health_monitor;
ALTER FUNCTION app_enqueue_event_notification() OWNER TO integration_health_monitor;
ALTER FUNCTION app_claim_notifications(integer, interval) OWNER TO integration_health_monitor;
ALTER FUNCTION app_finish_notification(uuid, text, text, timestamptz) OWNER TO integration_health_monitor;
REVOKE ALL ON FUNCTION app_claim_due_health_checks(interval, integer), app_provider_health_window(timestamptz),
  app_set_provider_status(text, text, uuid, text, text), app_enqueue_event_notification(),
  app_claim_notifications(integer, interval), app_finish_notification(uuid, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_claim_due_health_checks(interval, integer), app_provider_health_window(timestamptz),
  app_set_provider_status(text, text, uuid, text, text), app_claim_notifications(integer, interval),
  app_finish_notification(uuid, text, text, timestamptz) TO integration_app;
