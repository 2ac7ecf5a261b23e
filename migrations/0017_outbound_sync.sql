-- Outbound sync (issue 9). A pushed platform record is linked on the synced row of
-- the provider object it became (platform_id), with what was pushed: the record's
-- version, the hash of the mapped fields sent (an unchanged record is not sent
-- again) and the row's content hash right after the push (a different one later
-- means the provider changed the object since: a conflict for two-way sync).
ALTER TABLE synced_records
  ADD COLUMN pushed_version      bigint,
  ADD COLUMN pushed_hash         text,
  ADD COLUMN pushed_content_hash text;
CREATE UNIQUE INDEX synced_records_platform ON synced_records (tenant_id, connection_id, entity_type, platform_id)
  WHERE platform_id IS NOT NULL;

-- Outbound jobs follow platform_records.change_seq: where the next one starts.
ALTER TABLE sync_cursors ADD COLUMN position bigint;

-- Who wins when both sides changed a record since the last push (domain/sync/ConflictPolicy.ts).
CREATE TABLE sync_conflict_policies (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  entity_type   text NOT NULL,
  policy        text NOT NULL CHECK (policy IN ('platform_wins', 'provider_wins', 'latest_wins')),
  updated_by    text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, entity_type),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
SELECT app_isolate_tenant_table('sync_conflict_policies');
