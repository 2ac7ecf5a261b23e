-- The admin and monitoring routes (issue 10): dead letters marked for review,
-- the record of every operator action, and the read path of the `operator`
-- role (platform SREs), who see every tenant.

-- A dead letter (a dead sync job, a dead webhook event) marked for review with
-- a note: listed apart by /monitoring/dlq until it is requeued or discarded.
ALTER TABLE sync_jobs
  ADD COLUMN review_note text,
  ADD COLUMN reviewed_by text,
  ADD COLUMN reviewed_at timestamptz;
ALTER TABLE webhook_events
  ADD COLUMN review_note text,
  ADD COLUMN reviewed_by text,
  ADD COLUMN reviewed_at timestamptz;
CREATE INDEX sync_jobs_dead ON sync_jobs (provider, finished_at) WHERE status = 'dead';
CREATE INDEX webhook_events_dead ON webhook_events (provider, received_at) WHERE status = 'dead';

-- Every state-changing admin or operator request: who (user, role, the
-- token's tenant), what, on which tenant (NULL: every tenant), with which
-- filter and what it did. A platform table without RLS: the service role may
-- only INSERT here, never read or change it; auditors read it as the owner.
CREATE TABLE operator_actions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor       text NOT NULL,
  actor_role  text NOT NULL,
  actor_tenant uuid NOT NULL,
  scope_tenant uuid,
  action      text NOT NULL,
  request     jsonb NOT NULL,
  result      jsonb NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
GRANT INSERT ON operator_actions TO integration_app;

-- The read models of the admin and monitoring routes, each written once as an
-- ordinary (invoker) function: called by the service role inside a tenant
-- transaction, row-level security limits it to that tenant. The `_all`
-- variants run the same function as integration_operator_reader, a role that
-- cannot log in, may only SELECT the four tables below (its policies read
-- every tenant's rows) and owns only these functions. Writes never go this
-- way: an operator's action is carried out tenant by tenant, under RLS.
SELECT app_ensure_role('integration_operator_reader', false);
GRANT integration_operator_reader TO current_user;
GRANT USAGE ON SCHEMA public TO integration_operator_reader;
GRANT SELECT ON connections, integration_health, sync_jobs, webhook_events TO integration_operator_reader;
CREATE POLICY operator_reader ON connections FOR SELECT TO integration_operator_reader USING (true);
CREATE POLICY operator_reader ON integration_health FOR SELECT TO integration_operator_reader USING (true);
CREATE POLICY operator_reader ON sync_jobs FOR SELECT TO integration_operator_reader USING (true);
CREATE POLICY operator_reader ON webhook_events FOR SELECT TO integration_operator_reader USING (true);

-- Connections with their health, keyset-paginated by (tenant_id, id).
CREATE FUNCTION ops_venues(p_provider text, p_status text, p_health text, p_after_tenant uuid, p_after_id uuid,
  p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid, venue_id uuid, provider text, status text, health_status text,
  last_error text, last_check_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT c.tenant_id, c.id, c.venue_id, c.provider, c.status, coalesce(h.status, 'unknown'),
    coalesce(h.last_error, c.last_error), h.last_check_at, c.updated_at
  FROM connections c
  LEFT JOIN integration_health h ON h.tenant_id = c.tenant_id AND h.connection_id = c.id
  WHERE (p_provider IS NULL OR c.provider = p_provider)
    AND (p_status IS NULL OR c.status = p_status)
    AND (p_health IS NULL OR coalesce(h.status, 'unknown') = p_health)
    AND (p_after_tenant IS NULL OR (c.tenant_id, c.id) > (p_after_tenant, p_after_id))
  ORDER BY c.tenant_id, c.id
  LIMIT p_limit
$$;

CREATE FUNCTION ops_health_summary()
RETURNS TABLE (provider text, status text, health_status text, connections bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT c.provider, c.status, coalesce(h.status, 'unknown'), count(*)
  FROM connections c
  LEFT JOIN integration_health h ON h.tenant_id = c.tenant_id AND h.connection_id = c.id
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
$$;

-- Sync jobs by filter, oldest first: what clear-queue, process-dead-letter and
-- recover-stale act on (p_stale: running with a heartbeat older than that).
CREATE FUNCTION ops_sync_jobs(p_statuses text[], p_provider text, p_priority text, p_created_before timestamptz,
  p_stale interval, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, connection_id uuid, provider text, status text, priority text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT j.tenant_id, j.id, j.connection_id, j.provider, j.status, j.priority FROM sync_jobs j
  WHERE j.status = ANY (p_statuses)
    AND (p_provider IS NULL OR j.provider = p_provider)
    AND (p_priority IS NULL OR j.priority = p_priority)
    AND (p_created_before IS NULL OR j.created_at < p_created_before)
    AND (p_stale IS NULL OR (j.status = 'running' AND j.heartbeat_at < now() - p_stale))
  ORDER BY j.created_at, j.id
  LIMIT p_limit
$$;

-- Webhook dead letters by filter, oldest first.
CREATE FUNCTION ops_webhook_dead(p_provider text, p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, provider text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT e.tenant_id, e.id, e.provider FROM webhook_events e
  WHERE e.status = 'dead' AND (p_provider IS NULL OR e.provider = p_provider)
    AND (p_before IS NULL OR e.received_at < p_before)
  ORDER BY e.received_at, e.id
  LIMIT p_limit
$$;

-- Queue depth and the oldest waiting job by priority and status.
CREATE FUNCTION ops_queue_depth()
RETURNS TABLE (priority text, status text, depth bigint, oldest_at timestamptz)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT j.priority, j.status, count(*), min(j.created_at) FROM sync_jobs j
  WHERE j.status IN ('queued', 'running', 'paused', 'failed', 'dead')
  GROUP BY 1, 2 ORDER BY 1, 2
$$;

-- Jobs finished since p_since and the records they fetched; the dead-letter depth.
CREATE FUNCTION ops_throughput(p_since timestamptz)
RETURNS TABLE (jobs_finished bigint, records_fetched bigint, sync_dead bigint, webhook_dead bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT
    (SELECT count(*) FROM sync_jobs j WHERE j.finished_at >= p_since AND j.status IN ('completed', 'failed', 'dead')),
    (SELECT coalesce(sum(j.fetched), 0)::bigint FROM sync_jobs j WHERE j.finished_at >= p_since),
    (SELECT count(*) FROM sync_jobs j WHERE j.status = 'dead'),
    (SELECT count(*) FROM webhook_events e WHERE e.status = 'dead')
$$;

-- Every dead letter: kind, provider, its error (the reason) and its review mark.
CREATE FUNCTION ops_dead_letters(p_limit integer)
RETURNS TABLE (kind text, tenant_id uuid, id uuid, provider text, reason text, failed_at timestamptz,
  review_note text, reviewed_by text, reviewed_at timestamptz)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  (SELECT 'sync', j.tenant_id, j.id, j.provider, coalesce(j.last_error, ''), coalesce(j.finished_at, j.created_at),
     j.review_note, j.reviewed_by, j.reviewed_at
   FROM sync_jobs j WHERE j.status = 'dead')
  UNION ALL
  (SELECT 'webhook', e.tenant_id, e.id, e.provider, coalesce(e.last_error, ''), e.received_at,
     e.review_note, e.reviewed_by, e.reviewed_at
   FROM webhook_events e WHERE e.status = 'dead')
  ORDER BY 6 DESC
  LIMIT p_limit
$$;

-- The operator's path: each read model across every tenant.
CREATE FUNCTION ops_venues_all(p_provider text, p_status text, p_health text, p_after_tenant uuid, p_after_id uuid,
  p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid, venue_id uuid, provider text, status text, health_status text,
  last_error text, last_check_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_venues(p_provider, p_status, p_health, p_after_tenant, p_after_id, p_limit)
$$;
CREATE FUNCTION ops_health_summary_all()
RETURNS TABLE (provider text, status text, health_status text, connections bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_health_summary()
$$;
CREATE FUNCTION ops_sync_jobs_all(p_statuses text[], p_provider text, p_priority text, p_created_before timestamptz,
  p_stale interval, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, connection_id uuid, provider text, status text, priority text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_sync_jobs(p_statuses, p_provider, p_priority, p_created_before, p_stale, p_limit)
$$;
CREATE FUNCTION ops_webhook_dead_all(p_provider text, p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, provider text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_webhook_dead(p_provider, p_before, p_limit)
$$;
CREATE FUNCTION ops_queue_depth_all()
RETURNS TABLE (priority text, status text, depth bigint, oldest_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_queue_depth()
$$;
CREATE FUNCTION ops_throughput_all(p_since timestamptz)
RETURNS TABLE (jobs_finished bigint, records_fetched bigint, sync_dead bigint, webhook_dead bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_throughput(p_since)
$$;
CREATE FUNCTION ops_dead_letters_all(p_limit integer)
RETURNS TABLE (kind text, tenant_id uuid, id uuid, provider text, reason text, failed_at timestamptz,
  review_note text, reviewed_by text, reviewed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_dead_letters(p_limit)
$$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
    'ops_venues(text, text, text, uuid, uuid, integer)', 'ops_health_summary()',
    'ops_sync_jobs(text[], text, text, timestamptz, interval, integer)', 'ops_webhook_dead(text, timestamptz, integer)',
    'ops_queue_depth()', 'ops_throughput(timestamptz)', 'ops_dead_letters(integer)'
  ] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO integration_app, integration_operator_reader', f);
  END LOOP;
  FOREACH f IN ARRAY ARRAY[
    'ops_venues_all(text, text, text, uuid, uuid, integer)', 'ops_health_summary_all()',
    'ops_sync_jobs_all(text[], text, text, timestamptz, interval, integer)',
    'ops_webhook_dead_all(text, timestamptz, integer)', 'ops_queue_depth_all()', 'ops_throughput_all(timestamptz)',
    'ops_dead_letters_all(integer)'
  ] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('ALTER FUNCTION %s OWNER TO integration_operator_reader', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO integration_app', f);
  END LOOP;
END
$$;
