-- Webhook endpoints registered at providers for a connection (seed: webhooks).
-- public_id goes into the endpoint URL so an event naming no account is
-- checked against this connection's secret only.
CREATE TABLE webhook_endpoints (
  tenant_id            uuid NOT NULL,
  connection_id        uuid NOT NULL,
  provider             text NOT NULL,
  public_id            text NOT NULL UNIQUE,
  url                  text NOT NULL,
  provider_endpoint_id text,
  events               text[] NOT NULL DEFAULT '{}',
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);

-- The webhook inbox (seed: integration_webhooks): one row per provider event,
-- de-duplicated by the provider's event id.
CREATE TABLE webhook_events (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  connection_id uuid,
  provider      text NOT NULL,
  event_id      text NOT NULL,
  event_type    text NOT NULL,
  status        text NOT NULL CHECK (status IN ('received', 'queued', 'processing', 'processed', 'ignored', 'failed', 'dead')),
  payload       jsonb NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  UNIQUE (tenant_id, provider, event_id)
);

-- OAuth authorization requests in flight: single use, 10 minutes, stored
-- only as a hash of the state.
CREATE TABLE oauth_states (
  state_hash    bytea PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  venue_id      uuid NOT NULL,
  provider      text NOT NULL,
  user_id       text NOT NULL,
  code_verifier text,
  redirect_uri  text NOT NULL,
  expires_at    timestamptz NOT NULL,
  consumed_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
