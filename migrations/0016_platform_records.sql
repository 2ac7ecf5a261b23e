-- The ticketing platform's own records (issue 9): what outbound sync reads.
-- The 0003 placeholder was never written; it is rebuilt with the record's
-- version (an older or equal one changes nothing), a deletion mark and a
-- change sequence for outbound jobs to follow.
DROP TABLE platform_records;

CREATE SEQUENCE platform_records_change_seq;

CREATE TABLE platform_records (
  tenant_id   uuid NOT NULL,
  venue_id    uuid NOT NULL,
  entity_type text NOT NULL CHECK (entity_type IN ('customer', 'product', 'order', 'invoice', 'payment', 'contact')),
  id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
  -- The platform's version of the record: `version`, or `updatedAt` in epoch milliseconds.
  version     bigint NOT NULL,
  data        jsonb NOT NULL,
  deleted     boolean NOT NULL DEFAULT false,
  change_seq  bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, entity_type, id)
);
CREATE INDEX platform_records_changes ON platform_records (tenant_id, venue_id, entity_type, change_seq);

SELECT app_isolate_tenant_table('platform_records');
GRANT USAGE ON SEQUENCE platform_records_change_seq TO integration_app;
