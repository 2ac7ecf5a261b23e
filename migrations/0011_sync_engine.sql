-- The inbound sync engine (issue 8). sync_jobs (seed: sync_queue) and
-- synced_records were placeholders from 0003 and never written: they are
-- rebuilt here with what checkpointed, fenced, incremental jobs and a change
-- feed need.
DROP TABLE sync_logs;
DROP TABLE sync_jobs;
DROP TABLE sync_cursors;
DROP TABLE synced_records;

-- One row per job: its durable record, idempotency key, checkpoint and counts.
-- The queue message only says "run job <id>"; this row is the truth.
CREATE TABLE sync_jobs (
  id              uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  venue_id        uuid NOT NULL,
  provider        text NOT NULL,
  entity_type     text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  -- remap: re-run the mapping over stored raw payloads, no provider call.
  mode            text NOT NULL CHECK (mode IN ('full', 'incremental', 'remap')),
  priority        text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'critical')),
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'dead', 'paused')),
  idempotency_key text NOT NULL,
  requested_by    text NOT NULL,
  -- Fencing: the claim of the worker running it; a page commits only under the current claim.
  claim           uuid,
  heartbeat_at    timestamptz,
  -- Set by /sync/stop on a running job: it pauses at the next page boundary.
  stop_requested  boolean NOT NULL DEFAULT false,
  -- Paused because the provider refused the credential: it resumes by itself once the venue reconnects.
  awaiting_reauth boolean NOT NULL DEFAULT false,
  attempts        integer NOT NULL DEFAULT 0,
  -- Where the pass stands: effective mode, since, the adapter's cursor, the watermark so far.
  checkpoint      jsonb,
  mapping_version integer,
  total           integer,
  fetched         integer NOT NULL DEFAULT 0,
  created         integer NOT NULL DEFAULT 0,
  updated         integer NOT NULL DEFAULT 0,
  unchanged       integer NOT NULL DEFAULT 0,
  deleted         integer NOT NULL DEFAULT 0,
  failed          integer NOT NULL DEFAULT 0,
  last_error      text,
  run_after       timestamptz NOT NULL DEFAULT now(),
  -- Milliseconds, as the history cursor carries them: keyset pages on (created_at, id) neither skip nor repeat.
  created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  started_at      timestamptz,
  finished_at     timestamptz,
  UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
-- Requests that arrive while one is waiting coalesce into it: one queued job per connection × entity × direction.
-- A remap (no provider call) waits beside a provider pass, not inside it.
CREATE UNIQUE INDEX sync_jobs_one_queued ON sync_jobs (tenant_id, connection_id, entity_type, direction, (mode = 'remap'))
  WHERE status = 'queued';
CREATE INDEX sync_jobs_history ON sync_jobs (tenant_id, connection_id, created_at DESC, id DESC);
CREATE INDEX sync_jobs_active ON sync_jobs (status, run_after) WHERE status IN ('queued', 'running');

CREATE TABLE sync_logs (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  job_id     uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  level      text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message    text NOT NULL,
  details    jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_logs_job ON sync_logs (job_id, id);

-- Where the next incremental pass of a connection × entity starts, and when the last full pass completed.
CREATE TABLE sync_cursors (
  tenant_id      uuid NOT NULL,
  connection_id  uuid NOT NULL,
  entity_type    text NOT NULL,
  direction      text NOT NULL,
  watermark      timestamptz,
  last_full_at   timestamptz,
  last_success_at timestamptz,
  PRIMARY KEY (tenant_id, connection_id, entity_type, direction),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- The change feed's order. Pages of one connection commit under an advisory
-- lock, so within a connection a larger number always committed later.
CREATE SEQUENCE synced_records_change_seq;

-- The canonical copy of every synced record with the provider's raw payload.
CREATE TABLE synced_records (
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  entity_type     text NOT NULL,
  external_id     text NOT NULL,
  platform_id     text,
  raw             jsonb NOT NULL,
  -- md5 of the raw payload's jsonb text: an unchanged record is not rewritten.
  content_hash    text NOT NULL,
  data            jsonb NOT NULL,
  -- The mapping errors of the last mapping; such a record stays out of the feed until a remap fixes it.
  errors          jsonb,
  mapping_version integer NOT NULL,
  deleted         boolean NOT NULL DEFAULT false,
  change          text NOT NULL CHECK (change IN ('added', 'updated', 'deleted')),
  change_seq      bigint NOT NULL,
  -- The last full pass (job) that saw it: records a complete pass did not see are deleted.
  seen_by         uuid,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type, external_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX synced_records_feed ON synced_records (tenant_id, connection_id, change_seq);

-- When each connection's next periodic incremental sync is due.
CREATE TABLE sync_schedules (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  next_run_at   timestamptz NOT NULL,
  last_run_at   timestamptz,
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY[
  'sync_jobs', 'sync_logs', 'sync_cursors', 'synced_records', 'sync_schedules'
]) AS t;
GRANT USAGE ON SEQUENCE synced_records_change_seq TO integration_app;

-- The scheduler: a role that cannot log in and owns only the functions below,
-- which read across tenants what is due (connections, schedules, pending
-- webhook sync requests, jobs waiting or stale) — nothing else. The service
-- role only EXECUTEs them; the jobs themselves are read and written per tenant.
SELECT app_ensure_role('integration_sync_scheduler', false);
GRANT integration_sync_scheduler TO current_user;
GRANT USAGE ON SCHEMA public TO integration_sync_scheduler;
GRANT SELECT ON connections TO integration_sync_scheduler;
GRANT SELECT, INSERT, UPDATE ON sync_schedules TO integration_sync_scheduler;
-- FOR UPDATE (to take each request once) needs UPDATE as well as the DELETE.
GRANT SELECT, UPDATE, DELETE ON sync_requests TO integration_sync_scheduler;
GRANT SELECT ON sync_jobs TO integration_sync_scheduler;
CREATE POLICY sync_scheduler ON connections FOR SELECT TO integration_sync_scheduler USING (true);
CREATE POLICY sync_scheduler ON sync_schedules TO integration_sync_scheduler USING (true) WITH CHECK (true);
CREATE POLICY sync_scheduler ON sync_requests TO integration_sync_scheduler USING (true);
CREATE POLICY sync_scheduler ON sync_jobs FOR SELECT TO integration_sync_scheduler USING (true);

-- Connections due a periodic sync, claimed by exactly one caller: every
-- connected connection gets a schedule (due now: its initial sync), and each
-- due one moves to now + interval as it is handed out.
CREATE FUNCTION app_claim_due_syncs(p_interval interval, p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO sync_schedules (tenant_id, connection_id, next_run_at)
  SELECT c.tenant_id, c.id, now() FROM connections c WHERE c.status = 'connected'
  ON CONFLICT DO NOTHING;
  WITH due AS (
    SELECT s.tenant_id, s.connection_id FROM sync_schedules s
    JOIN connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id AND c.status = 'connected'
    WHERE s.next_run_at <= now()
    ORDER BY s.next_run_at
    LIMIT p_limit
    FOR UPDATE OF s SKIP LOCKED
  )
  UPDATE sync_schedules s SET next_run_at = now() + p_interval, last_run_at = now()
  FROM due WHERE s.tenant_id = due.tenant_id AND s.connection_id = due.connection_id
  RETURNING s.tenant_id, s.connection_id;
$$;

-- Webhook-requested syncs, taken by exactly one caller (the row is gone once
-- taken; the caller turns it into a job at once, and the periodic sync
-- catches anything a crash in between loses).
CREATE FUNCTION app_take_sync_requests(p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid, entity_type text, source text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH taken AS (
    SELECT r.tenant_id, r.connection_id, r.entity_type FROM sync_requests r
    ORDER BY r.requested_at LIMIT p_limit FOR UPDATE SKIP LOCKED
  )
  DELETE FROM sync_requests r USING taken
  WHERE r.tenant_id = taken.tenant_id AND r.connection_id = taken.connection_id AND r.entity_type = taken.entity_type
  RETURNING r.tenant_id, r.connection_id, r.entity_type, r.source;
$$;

-- Jobs whose queue message may be lost: queued and due for a while, or running
-- with a heartbeat older than p_stale. Offering them again is safe: a job runs
-- only under a fresh claim.
CREATE FUNCTION app_sync_jobs_to_requeue(p_stale interval, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, priority text, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT j.tenant_id, j.id, j.priority, j.status FROM sync_jobs j
  WHERE (j.status = 'queued' AND j.run_after < now() - p_stale)
     OR (j.status = 'running' AND j.heartbeat_at < now() - p_stale)
  ORDER BY j.run_after LIMIT p_limit;
$$;

-- Connections connected again that have jobs paused for reauthorization.
CREATE FUNCTION app_reconnected_with_paused_syncs(p_limit integer)
RETURNS TABLE (tenant_id uuid, connection_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT j.tenant_id, j.connection_id FROM sync_jobs j
  JOIN connections c ON c.tenant_id = j.tenant_id AND c.id = j.connection_id AND c.status = 'connected'
  WHERE j.status = 'paused' AND j.awaiting_reauth
  LIMIT p_limit;
$$;

-- Fresh planner statistics after a large pass (ANALYZE needs the owner, and
-- autovacuum may be off or behind): without them a page's lookups by external
-- id scan the whole connection.
CREATE FUNCTION app_analyze_synced_records() RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  ANALYZE synced_records;
$$;
REVOKE ALL ON FUNCTION app_analyze_synced_records() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_analyze_synced_records() TO integration_app;

REVOKE ALL ON FUNCTION app_claim_due_syncs(interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_reconnected_with_paused_syncs(integer) FROM PUBLIC;
ALTER FUNCTION app_reconnected_with_paused_syncs(integer) OWNER TO integration_sync_scheduler;
GRANT EXECUTE ON FUNCTION app_reconnected_with_paused_syncs(integer) TO integration_app;
REVOKE ALL ON FUNCTION app_take_sync_requests(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_sync_jobs_to_requeue(interval, integer) FROM PUBLIC;
ALTER FUNCTION app_claim_due_syncs(interval, integer) OWNER TO integration_sync_scheduler;
ALTER FUNCTION app_take_sync_requests(integer) OWNER TO integration_sync_scheduler;
ALTER FUNCTION app_sync_jobs_to_requeue(interval, integer) OWNER TO integration_sync_scheduler;
GRANT EXECUTE ON FUNCTION app_claim_due_syncs(interval, integer) TO integration_app;
GRANT EXECUTE ON FUNCTION app_take_sync_requests(integer) TO integration_app;
GRANT EXECUTE ON FUNCTION app_sync_jobs_to_requeue(interval, integer) TO integration_app;
