-- Field mappings become data (issue 7): one row per connection × entity ×
-- direction holding the current version's rules (seed: field_mappings, which
-- held one row per source/target pair and was never written), every saved
-- version kept, and templates of a tenant's own beside the built-in ones.
DROP TABLE field_mappings;

CREATE TABLE field_mappings (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  version       integer NOT NULL CHECK (version > 0),
  rules         jsonb NOT NULL,
  template      text,
  updated_by    text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- `broken` while rules name provider fields that no longer exist (found by heal or discovery), until healed.
  status        text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'broken')),
  broken_rules  jsonb NOT NULL DEFAULT '[]',
  PRIMARY KEY (tenant_id, connection_id, entity_type, direction),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- Every version ever saved; the current one is also in field_mappings. Synced
-- records carry the version that made them, so stale ones can be found.
CREATE TABLE field_mapping_versions (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL,
  direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  version       integer NOT NULL CHECK (version > 0),
  rules         jsonb NOT NULL,
  template      text,
  updated_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type, direction, version),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- A tenant's own templates, saved from one venue's mapping to apply to others.
CREATE TABLE tenant_mapping_templates (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL,
  provider    text NOT NULL REFERENCES integrations (provider),
  entity_type text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  rules       jsonb NOT NULL,
  usage_count bigint NOT NULL DEFAULT 0,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, provider, entity_type, direction, name)
);

SELECT app_isolate_tenant_table(t) FROM unnest(ARRAY[
  'field_mappings', 'field_mapping_versions', 'tenant_mapping_templates'
]) AS t;

-- Built-in templates (seed: field_mapping_templates): per provider × entity ×
-- direction × venue type, from domain/mapping/templates/*.json.
ALTER TABLE field_mapping_templates
  ADD COLUMN direction text NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound')),
  ADD COLUMN venue_type text NOT NULL DEFAULT 'general' CHECK (venue_type IN ('general', 'theatre', 'music', 'sports')),
  ADD COLUMN usage_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  DROP CONSTRAINT field_mapping_templates_provider_name_entity_type_key,
  ADD CONSTRAINT field_mapping_templates_key UNIQUE (provider, entity_type, direction, name);
ALTER TABLE field_mapping_templates RENAME COLUMN mappings TO rules;
GRANT UPDATE (usage_count) ON field_mapping_templates TO integration_app;

-- The service loads the data files at start-up (idempotent: rules are replaced,
-- usage counts kept) without write rights on the platform table itself.
CREATE FUNCTION app_load_mapping_templates(p_templates jsonb) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO field_mapping_templates (id, provider, name, entity_type, direction, venue_type, rules, is_default)
  SELECT gen_random_uuid(), t->>'provider', t->>'name', t->>'entityType', t->>'direction', t->>'venueType',
    t->'rules', t->>'venueType' = 'general'
  FROM jsonb_array_elements(p_templates) AS t
  ON CONFLICT (provider, entity_type, direction, name) DO UPDATE
    SET rules = excluded.rules, venue_type = excluded.venue_type, is_default = excluded.is_default,
        updated_at = CASE WHEN field_mapping_templates.rules = excluded.rules
          THEN field_mapping_templates.updated_at ELSE now() END
$$;
REVOKE ALL ON FUNCTION app_load_mapping_templates(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_load_mapping_templates(jsonb) TO integration_app;
