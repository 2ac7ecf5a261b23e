-- Field mappings per connection and entity (seed: field_mappings).
CREATE TABLE field_mappings (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  source_field  text NOT NULL,
  target_field  text NOT NULL,
  direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'bidirectional')),
  transform     jsonb,
  is_required   boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, connection_id, entity_type, source_field, target_field),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- Default mappings per provider (seed: field_mapping_templates). Platform data.
CREATE TABLE field_mapping_templates (
  id           uuid PRIMARY KEY,
  provider     text NOT NULL REFERENCES integrations (provider),
  name         text NOT NULL,
  entity_type  text NOT NULL,
  mappings     jsonb NOT NULL,
  is_default   boolean NOT NULL DEFAULT false,
  UNIQUE (provider, name, entity_type)
);
GRANT SELECT ON field_mapping_templates TO integration_app;

-- Sync jobs (seed: sync_queue). The queue itself is Redis or SQL-backed
-- PersistedQueue; this row is the job's durable record and idempotency key.
CREATE TABLE sync_jobs (
  id              uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  entity_type     text NOT NULL,
  direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'bidirectional')),
  priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'critical')),
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'dead')),
  idempotency_key text NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  records_total   integer NOT NULL DEFAULT 0,
  records_done    integer NOT NULL DEFAULT 0,
  last_error      text,
  requested_by    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- What each sync did, page by page (seed: sync_logs).
CREATE TABLE sync_logs (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  job_id     uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
  level      text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message    text NOT NULL,
  details    jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Where an entity's sync stands, so a crashed job resumes from its last page.
CREATE TABLE sync_cursors (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL,
  direction     text NOT NULL,
  cursor        text,
  checkpoint_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type, direction),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- Canonical copy of every synced record, with its ids on each side.
CREATE TABLE synced_records (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL,
  external_id   text NOT NULL,
  platform_id   uuid,
  content_hash  text NOT NULL,
  data          jsonb NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type, external_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- The ticketing platform's own records that outbound syncs read.
CREATE TABLE platform_records (
  tenant_id   uuid NOT NULL,
  venue_id    uuid NOT NULL,
  entity_type text NOT NULL,
  id          uuid NOT NULL,
  data        jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, entity_type, id)
);

-- API calls and their cost per connection and day (seed: integration_costs).
CREATE TABLE integration_costs (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  day           date NOT NULL,
  api_calls     integer NOT NULL DEFAULT 0,
  cost_micros   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, connection_id, day),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
