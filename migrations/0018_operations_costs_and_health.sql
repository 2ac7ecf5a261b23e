-- Operations (issue 10), continued: the costs read model of
-- GET /admin/costs, and an hourly rollup of the call ledger for the 24-hour
-- metrics.

-- The operator's read path (0015) also reads the costs the call ledger writes.
GRANT SELECT ON integration_costs TO integration_operator_reader;
CREATE POLICY operator_reader ON integration_costs FOR SELECT TO integration_operator_reader USING (true);

-- Costs over the UTC days p_from..p_to (both included), grouped by tenant,
-- venue, provider or day: the calls made, the calls a provider meters against
-- its quota (QuickBooks CorePlus), the sync workers' time and what all of it
-- cost, in millionths of a dollar. `key` is the group's value (a tenant or
-- venue id, a provider, a YYYY-MM-DD day); tenant_id is set when grouping by
-- tenant or venue.
CREATE FUNCTION ops_costs(p_from date, p_to date, p_group text)
RETURNS TABLE (key text, tenant_id uuid, api_calls bigint, quota_calls bigint, worker_millis bigint,
  cost_micros bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT
    CASE p_group WHEN 'tenant' THEN k.tenant_id::text WHEN 'venue' THEN c.venue_id::text
      WHEN 'provider' THEN c.provider ELSE to_char(k.day, 'YYYY-MM-DD') END,
    CASE WHEN p_group IN ('tenant', 'venue') THEN k.tenant_id END,
    sum(k.api_calls)::bigint, sum(k.quota_calls)::bigint, sum(k.worker_millis)::bigint, sum(k.cost_micros)::bigint
  FROM integration_costs k
  JOIN connections c ON c.tenant_id = k.tenant_id AND c.id = k.connection_id
  WHERE k.day BETWEEN p_from AND p_to
  GROUP BY 1, 2
  ORDER BY 1, 2
$$;
CREATE FUNCTION ops_costs_all(p_from date, p_to date, p_group text)
RETURNS TABLE (key text, tenant_id uuid, api_calls bigint, quota_calls bigint, worker_millis bigint,
  cost_micros bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM ops_costs(p_from, p_to, p_group)
$$;
REVOKE ALL ON FUNCTION ops_costs(date, date, text), ops_costs_all(date, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops_costs(date, date, text) TO integration_app, integration_operator_reader;
ALTER FUNCTION ops_costs_all(date, date, text) OWNER TO integration_operator_reader;
GRANT EXECUTE ON FUNCTION ops_costs_all(date, date, text) TO integration_app;

-- The call ledger per UTC hour: what 24-hour questions read (24 or 25 rows
-- per operation and outcome instead of 1,440 minutes, each with a histogram
-- to add). Written by the same flush as the minute and day rows, kept as long
-- as the minute detail (app_prune_call_ledger's p_minutes).
CREATE TABLE provider_call_hours (
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  provider        text NOT NULL,
  operation       text NOT NULL,
  hour            timestamptz NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('ok', '4xx', '429', '5xx', 'timeout')),
  calls           integer NOT NULL,
  latency_ms      bigint NOT NULL,
  latency_max_ms  integer NOT NULL,
  latency_buckets integer[] NOT NULL,
  bytes           bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, connection_id, hour, operation, outcome)
    INCLUDE (calls, latency_ms, latency_max_ms, latency_buckets, bytes),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX provider_call_hours_age ON provider_call_hours (hour);
SELECT app_isolate_tenant_table('provider_call_hours');
GRANT SELECT, INSERT, UPDATE, DELETE ON provider_call_hours TO integration_call_ledger;
CREATE POLICY call_ledger ON provider_call_hours TO integration_call_ledger USING (true) WITH CHECK (true);

-- The minute detail already held, rolled up once.
INSERT INTO provider_call_hours (tenant_id, connection_id, provider, operation, hour, outcome, calls, latency_ms,
  latency_max_ms, latency_buckets, bytes)
SELECT tenant_id, connection_id, provider, operation, date_trunc('hour', minute, 'UTC'), outcome, sum(calls),
  sum(latency_ms), max(latency_max_ms), app_sum_buckets(latency_buckets), sum(bytes)
FROM provider_call_minutes
GROUP BY tenant_id, connection_id, provider, operation, date_trunc('hour', minute, 'UTC'), outcome;

-- 0012's flush, also adding to the hour rows (in key order, as the others).
CREATE OR REPLACE FUNCTION app_record_provider_calls(p_calls jsonb, p_work jsonb)
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
  hours AS (
    INSERT INTO provider_call_hours AS h (tenant_id, connection_id, provider, operation, hour, outcome, calls,
      latency_ms, latency_max_ms, latency_buckets, bytes)
    SELECT tenant_id, connection_id, provider, operation, date_trunc('hour', minute, 'UTC'), outcome, sum(calls),
      sum(latency_ms), max(latency_max_ms), app_sum_buckets(latency_buckets), sum(bytes)
    FROM input
    GROUP BY tenant_id, connection_id, provider, operation, date_trunc('hour', minute, 'UTC'), outcome
    ORDER BY tenant_id, connection_id, 5, operation, outcome
    ON CONFLICT (tenant_id, connection_id, hour, operation, outcome) DO UPDATE SET
      calls = h.calls + excluded.calls,
      latency_ms = h.latency_ms + excluded.latency_ms,
      latency_max_ms = greatest(h.latency_max_ms, excluded.latency_max_ms),
      latency_buckets = app_add_buckets(h.latency_buckets, excluded.latency_buckets),
      bytes = h.bytes + excluded.bytes
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

-- 0012's retention, with the hour rows kept as long as the minutes. Answers
-- the rows deleted of each table.
DROP FUNCTION app_prune_call_ledger(interval, interval);
CREATE FUNCTION app_prune_call_ledger(p_minutes interval, p_days interval)
RETURNS TABLE (minutes integer, hours integer, days integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH m AS (DELETE FROM provider_call_minutes WHERE minute < now() - p_minutes RETURNING 1),
  h AS (DELETE FROM provider_call_hours WHERE hour < date_trunc('hour', now() - p_minutes, 'UTC') RETURNING 1),
  d AS (DELETE FROM provider_call_days WHERE day < (now() - p_days)::date RETURNING 1)
  SELECT (SELECT count(*) FROM m)::integer, (SELECT count(*) FROM h)::integer, (SELECT count(*) FROM d)::integer
$$;
REVOKE ALL ON FUNCTION app_prune_call_ledger(interval, interval) FROM PUBLIC;
ALTER FUNCTION app_prune_call_ledger(interval, interval) OWNER TO integration_call_ledger;
GRANT EXECUTE ON FUNCTION app_prune_call_ledger(interval, interval) TO integration_app;
