-- Operations (issue 10), continued: the costs read model of
-- GET /admin/costs.

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
