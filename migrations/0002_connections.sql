-- Catalog of providers (seed: integrations). Platform data, not per tenant.
CREATE TABLE integrations (
  provider     text PRIMARY KEY CHECK (provider IN ('stripe', 'square', 'mailchimp', 'quickbooks')),
  display_name text NOT NULL,
  auth_type    text NOT NULL CHECK (auth_type IN ('api_key', 'oauth2')),
  entity_types text[] NOT NULL
);
INSERT INTO integrations VALUES
  ('stripe', 'Stripe', 'api_key', '{customer,product,order,payment}'),
  ('square', 'Square', 'oauth2', '{customer,product,order,payment}'),
  ('mailchimp', 'Mailchimp', 'oauth2', '{contact}'),
  ('quickbooks', 'QuickBooks Online', 'oauth2', '{customer,product,invoice,payment}');
GRANT SELECT ON integrations TO integration_app;

-- One venue's link to one provider (seed: connections + integration_configs,
-- merged: the config's settings are the settings column here).
CREATE TABLE connections (
  id              uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL,
  venue_id        uuid NOT NULL,
  provider        text NOT NULL REFERENCES integrations (provider),
  auth_type       text NOT NULL CHECK (auth_type IN ('api_key', 'oauth2')),
  status          text NOT NULL CHECK (status IN ('pending', 'connected', 'disconnected', 'needs_reauth', 'error')),
  account_id      text,
  account_name    text,
  livemode        boolean,
  settings        jsonb NOT NULL DEFAULT '{}',
  last_error      text,
  connected_at    timestamptz,
  disconnected_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, venue_id, provider),
  UNIQUE (tenant_id, id)
);
CREATE INDEX connections_provider_account ON connections (provider, account_id) WHERE account_id IS NOT NULL;

-- Sealed credentials (seed: oauth_tokens + venue_api_keys, merged: one row per
-- secret field). The AES-GCM additional data binds each ciphertext to
-- (tenant, venue, provider, field), so a row copied elsewhere does not open.
CREATE TABLE credentials (
  tenant_id     uuid NOT NULL,
  connection_id uuid NOT NULL,
  venue_id      uuid NOT NULL,
  provider      text NOT NULL,
  field         text NOT NULL CHECK (field IN ('api_key', 'access_token', 'refresh_token', 'webhook_secret')),
  ciphertext    bytea NOT NULL,
  iv            bytea NOT NULL,
  wrapped_key   bytea NOT NULL,
  key_id        text NOT NULL,
  expires_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, venue_id, provider, field),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX credentials_key_id ON credentials (key_id);

-- Health of each connection (seed: integration_health).
CREATE TABLE integration_health (
  tenant_id            uuid NOT NULL,
  connection_id        uuid NOT NULL,
  status               text NOT NULL CHECK (status IN ('healthy', 'degraded', 'unhealthy', 'unknown')),
  consecutive_failures integer NOT NULL DEFAULT 0,
  checks_total         integer NOT NULL DEFAULT 0,
  checks_failed        integer NOT NULL DEFAULT 0,
  last_check_at        timestamptz,
  last_success_at      timestamptz,
  last_error           text,
  last_latency_ms      double precision,
  token_expires_at     timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
