-- PersistedQueue.layerStoreSql({ tableName: "queue_elements" }), created by the owner
-- because the service role cannot CREATE; a platform table (no tenant_id, no RLS).
CREATE TABLE IF NOT EXISTS queue_elements (
  sequence BIGSERIAL PRIMARY KEY,
  id VARCHAR(255) NOT NULL,
  queue_name VARCHAR(255) NOT NULL,
  element TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_failure TEXT NULL,
  acquired_at TIMESTAMP NULL,
  acquired_by UUID NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  state VARCHAR(10) NOT NULL,
  visible_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_queue_elements_id ON queue_elements (id, queue_name);
CREATE INDEX IF NOT EXISTS idx_queue_elements_update ON queue_elements (sequence, acquired_by);
CREATE INDEX IF NOT EXISTS idx_queue_elements_take ON queue_elements (queue_name, visible_at) WHERE state = 'pending';

-- effect's own migration bookkeeping for this table, marked as done
CREATE TABLE IF NOT EXISTS queue_elements_migrations (
  migration_id INTEGER PRIMARY KEY,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  name TEXT NOT NULL
);
INSERT INTO queue_elements_migrations (migration_id, name)
VALUES (1, 'create_table'), (2, 'upgrade_schema')
ON CONFLICT (migration_id) DO NOTHING;

GRANT SELECT, INSERT, UPDATE, DELETE ON queue_elements, queue_elements_migrations TO integration_app;
GRANT USAGE ON SEQUENCE queue_elements_sequence_seq TO integration_app;
