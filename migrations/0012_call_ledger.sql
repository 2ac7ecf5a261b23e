-- The provider call ledger (issue 10): every provider call counted per
-- connection, operation, minute and outcome class — aggregates, never a row
-- per call — with a daily rollup for 30-day questions and the cost of each
-- connection per day in integration_costs.
--
-- Latency histograms: latency_buckets[i] counts calls whose latency in ms was
-- <= the i-th edge of domain/operations/LatencyHistogram.ts
--   {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}
-- and above the previous one; the 13th element counts calls above 30 000 ms.
-- Histograms add element by element, so any range of rows still yields
-- p50/p95/p99 estimates. Changing the edges needs a migration of these rows.
--
-- Retention (app_prune_call_ledger, run hourly by the ledger's writer):
-- minute detail 48 hours, daily rollup 400 days. integration_costs is billing
-- data and is not pruned.

-- a + b element by element; a missing element counts 0 (a shorter or empty
-- array). A PL/pgSQL loop: ten times faster per row than unnest/array_agg.
CREATE FUNCTION app_add_buckets(a integer[], b integer[]) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r integer[] := coalesce(a, '{}');
BEGIN
  FOR i IN 1..greatest(cardinality(a), cardinality(b)) LOOP
    r[i] := coalesce(a[i], 0) + coalesce(b[i], 0);
  END LOOP;
  RETURN r;
END
$$;
CREATE AGGREGATE app_sum_buckets(integer[]) (SFUNC = app_add_buckets, STYPE = integer[], INITCOND = '{}');

CREATE TABLE provider_call_minutes (
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  provider        text NOT NULL,
  operation       text NOT NULL,
  minute          timestamptz NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('ok', '4xx', '429', '5xx', 'timeout')),
  calls           integer NOT NULL,
  latency_ms      bigint NOT NULL,
  latency_max_ms  integer NOT NULL,
  latency_buckets integer[] NOT NULL,
  bytes           bigint NOT NULL DEFAULT 0,
  -- Covering: a connection's range is read from the index alone. Rows of one
  -- connection are spread over as many heap pages as they have minutes
  -- (flushes interleave connections), which cold cost ~1 s per day read.
  PRIMARY KEY (tenant_id, connection_id, minute, operation, outcome)
    INCLUDE (calls, latency_ms, latency_max_ms, latency_buckets, bytes),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
-- Pruning deletes by age across tenants.
CREATE INDEX provider_call_minutes_age ON provider_call_minutes (minute);

-- The same per UTC day: what 7-day and 30-day questions read.
CREATE TABLE provider_call_days (
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  provider        text NOT NULL,
  operation       text NOT NULL,
  day             date NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('ok', '4xx', '429', '5xx', 'timeout')),
  calls           integer NOT NULL,
  latency_ms      bigint NOT NULL,
  latency_max_ms  integer NOT NULL,
  latency_buckets integer[] NOT NULL,
  bytes           bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, connection_id, day, operation, outcome)
    INCLUDE (calls, latency_ms, latency_max_ms, latency_buckets, bytes),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX provider_call_days_age ON provider_call_days (day);

-- Costs per tenant, connection and day: api_calls and cost_micros (0003) are
-- now written by the ledger; also the calls the provider meters against a
-- quota (QuickBooks CorePlus) and the sync worker's time.
ALTER TABLE integration_costs
  ADD COLUMN quota_calls   integer NOT NULL DEFAULT 0,
  ADD COLUMN worker_millis bigint NOT NULL DEFAULT 0,
  ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();
CREATE INDEX integration_costs_day ON integration_costs (day);

-- The metrics route's reads of sync runs and webhook events of one connection
-- over 30 days, from the index alone where the rows are settled.
CREATE INDEX sync_jobs_metrics ON sync_jobs (tenant_id, connection_id, created_at)
  INCLUDE (status, started_at, fetched);
CREATE INDEX webhook_events_metrics ON webhook_events (tenant_id, connection_id, received_at)
  INCLUDE (status) WHERE connection_id IS NOT NULL;

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY['provider_call_minutes', 'provider_call_days']) AS t;

-- The ledger's writer: a role that cannot log in and owns only the two
-- functions below. A flush holds calls of many tenants; the writer resolves
-- each connection's tenant itself, so the service role never names a tenant
-- it is not in, and may only EXECUTE these.
SELECT app_ensure_role('integration_call_ledger', false);
GRANT integration_call_ledger TO current_user;
GRANT USAGE ON SCHEMA public TO integration_call_ledger;
GRANT SELECT (id, tenant_id, provider) ON connections TO integration_call_ledger;
GRANT SELECT, INSERT, UPDATE, DELETE ON provider_call_minutes, provider_call_days TO integration_call_ledger;
GRANT SELECT, INSERT, UPDATE ON integration_costs TO integration_call_ledger;
CREATE POLICY call_ledger ON connections FOR SELECT TO integration_call_ledger USING (true);
CREATE POLICY call_ledger ON provider_call_minutes TO integration_call_ledger USING (true) WITH CHECK (true);
CREATE POLICY call_ledger ON provider_call_days TO integration_call_ledger USING (true) WITH CHECK (true);
CREATE POLICY call_ledger ON integration_costs TO integration_call_ledger USING (true) WITH CHECK (true);

-- One flush in one statement. p_calls: [{connection_id, operation, minute,
-- outcome, calls, latency_ms, latency_max_ms, latency_buckets, bytes,
-- cost_micros, quota_calls}], one element per (connection, operation, minute,
-- outcome); p_work: [{connection_id, day, worker_millis, cost_micros}].
-- Minute rows, day rows and costs are added to, in key order (concurrent
-- flushes of several processes lock rows in the same order). Calls of a
-- connection that no longer exists are dropped. Answers the minute rows
-- written.
CREATE FUNCTION app_record_provider_calls(p_calls jsonb, p_work jsonb)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH input AS (
    SELECT c.tenant_id, c.id AS connection_id, c.provider, i.operation, date_trunc('minute', i.minute) AS minute,
      i.outcome, sum(i.calls)::integer AS calls, sum(i.latency_ms)::bigint AS latency_ms,
      max(i.latency_max_ms) AS latency_max_ms, app_sum_buckets(i.latency_buckets) AS latency_buckets,
      sum(i.bytes)::bigint AS bytes, sum(i.cost_micros)::bigint AS cost_micros, sum(i.quota_calls)::integer AS quota_calls
    FROM jsonb_to_recordset(p_calls) AS i(connection_id uuid, operation text, minute timestamptz, outcome text,
      calls integer, latency_ms bigint, latency_max_ms integer, latency_buckets integer[], bytes bigint,
      cost_micros bigint, quota_calls integer)
    JOIN connections c ON c.id = i.connection_id
    GROUP BY c.tenant_id, c.id, c.provider, i.operation, date_trunc('minute', i.minute), i.outcome
  ),
  minutes AS (
    INSERT INTO provider_call_minutes AS m (tenant_id, connection_id, provider, operation, minute, outcome, calls,
      latency_ms, latency_max_ms, latency_buckets, bytes)
    SELECT tenant_id, connection_id, provider, operation, minute, outcome, calls, latency_ms, latency_max_ms,
      latency_buckets, bytes
    FROM input ORDER BY tenant_id, connection_id, minute, operation, outcome
    ON CONFLICT (tenant_id, connection_id, minute, operation, outcome) DO UPDATE SET
      calls = m.calls + excluded.calls,
      latency_ms = m.latency_ms + excluded.latency_ms,
      latency_max_ms = greatest(m.latency_max_ms, excluded.latency_max_ms),
      latency_buckets = app_add_buckets(m.latency_buckets, excluded.latency_buckets),
      bytes = m.bytes + excluded.bytes
    RETURNING 1
  ),
  days AS (
    INSERT INTO provider_call_days AS d (tenant_id, connection_id, provider, operation, day, outcome, calls,
      latency_ms, latency_max_ms, latency_buckets, bytes)
    SELECT tenant_id, connection_id, provider, operation, (minute AT TIME ZONE 'UTC')::date, outcome, sum(calls),
      sum(latency_ms), max(latency_max_ms), app_sum_buckets(latency_buckets), sum(bytes)
    FROM input
    GROUP BY tenant_id, connection_id, provider, operation, (minute AT TIME ZONE 'UTC')::date, outcome
    ORDER BY tenant_id, connection_id, 5, operation, outcome
    ON CONFLICT (tenant_id, connection_id, day, operation, outcome) DO UPDATE SET
      calls = d.calls + excluded.calls,
      latency_ms = d.latency_ms + excluded.latency_ms,
      latency_max_ms = greatest(d.latency_max_ms, excluded.latency_max_ms),
      latency_buckets = app_add_buckets(d.latency_buckets, excluded.latency_buckets),
      bytes = d.bytes + excluded.bytes
  ),
  work AS (
    SELECT c.tenant_id, c.id AS connection_id, w.day, w.worker_millis, w.cost_micros
    FROM jsonb_to_recordset(p_work) AS w(connection_id uuid, day date, worker_millis bigint, cost_micros bigint)
    JOIN connections c ON c.id = w.connection_id
  ),
  costs AS (
    INSERT INTO integration_costs AS k (tenant_id, connection_id, day, api_calls, cost_micros, quota_calls,
      worker_millis)
    SELECT tenant_id, connection_id, day, sum(calls), sum(cost_micros), sum(quota_calls), sum(worker_millis)
    FROM (
      SELECT tenant_id, connection_id, (minute AT TIME ZONE 'UTC')::date AS day, calls, cost_micros, quota_calls,
        0::bigint AS worker_millis
      FROM input
      UNION ALL
      SELECT tenant_id, connection_id, day, 0, cost_micros, 0, worker_millis FROM work
    ) AS all_costs
    GROUP BY tenant_id, connection_id, day
    ORDER BY tenant_id, connection_id, day
    ON CONFLICT (tenant_id, connection_id, day) DO UPDATE SET
      api_calls = k.api_calls + excluded.api_calls,
      cost_micros = k.cost_micros + excluded.cost_micros,
      quota_calls = k.quota_calls + excluded.quota_calls,
      worker_millis = k.worker_millis + excluded.worker_millis,
      updated_at = now()
  )
  SELECT count(*)::integer FROM minutes
$$;

-- Retention: minute detail older than p_minutes, daily rows older than
-- p_days. Answers the rows deleted of each.
CREATE FUNCTION app_prune_call_ledger(p_minutes interval, p_days interval)
RETURNS TABLE (minutes integer, days integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH m AS (DELETE FROM provider_call_minutes WHERE minute < now() - p_minutes RETURNING 1),
  d AS (DELETE FROM provider_call_days WHERE day < (now() - p_days)::date RETURNING 1)
  SELECT (SELECT count(*) FROM m)::integer, (SELECT count(*) FROM d)::integer
$$;

REVOKE ALL ON FUNCTION app_record_provider_calls(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_prune_call_ledger(interval, interval) FROM PUBLIC;
ALTER FUNCTION app_record_provider_calls(jsonb, jsonb) OWNER TO integration_call_ledger;
ALTER FUNCTION app_prune_call_ledger(interval, interval) OWNER TO integration_call_ledger;
GRANT EXECUTE ON FUNCTION app_record_provider_calls(jsonb, jsonb) TO integration_app;
GRANT EXECUTE ON FUNCTION app_prune_call_ledger(interval, interval) TO integration_app;
