-- 0007_webhooks: webhook subscriptions, their events, deliveries and the delivery log (issue 17).
--
-- Who manages a webhook: the holder of a webhook API key (webhook_api_keys; only a SHA-256 of the
-- key's secret part is stored, never the key). Times are TIMESTAMPTZ written by the service's clock
-- (a test clock in tests), so retry schedules do not depend on the server's now().

CREATE TABLE webhook_api_keys (
    id            BIGSERIAL PRIMARY KEY,
    key_id        TEXT UNIQUE NOT NULL,            -- public part of the key: frsk_<key_id>_<secret>
    secret_sha256 BYTEA NOT NULL,                  -- SHA-256 of the secret part (256 random bits)
    owner         TEXT NOT NULL,                   -- free label: who the key was issued to
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ
);

CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,                 -- wh_<random>
    owner_key_id         BIGINT NOT NULL REFERENCES webhook_api_keys (id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,                    -- receiver (for telegram: the Bot API base it posts to)
    format               TEXT NOT NULL CHECK (format IN ('standard', 'slack', 'discord', 'telegram')),
    event_types          TEXT[] NOT NULL,
    filters              JSONB NOT NULL DEFAULT '{}'::jsonb,
    description          TEXT,
    secret               TEXT NOT NULL,                    -- whsec_<base64>: needed to sign, so stored as is
    telegram_chat_id     TEXT,
    telegram_bot_token   TEXT,                             -- never returned by the API
    status               TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason      TEXT,
    disabled_at          TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      TIMESTAMPTZ,
    last_failure_at      TIMESTAMPTZ,
    wake_at              TIMESTAMPTZ,                      -- the queued "deliver now" message's due time
    rate_tokens          DOUBLE PRECISION,                 -- token bucket (deliveries), NULL = full
    rate_updated_at      TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhooks_owner ON webhooks (owner_key_id);
CREATE INDEX idx_webhooks_active ON webhooks (status) WHERE status = 'active';

-- One row per event that at least one webhook receives; the id is stable (subscribers de-duplicate on it).
CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    data         JSONB NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               BIGSERIAL PRIMARY KEY,                -- order of delivery within a webhook
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,                          -- a worker owns a 'delivering' row until then
    created_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error       TEXT,
    UNIQUE (webhook_id, event_id)                          -- an event reaches a webhook once
);
CREATE INDEX idx_webhook_deliveries_open ON webhook_deliveries (webhook_id, id)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX idx_webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX idx_webhook_deliveries_finished ON webhook_deliveries (finished_at)
    WHERE status IN ('delivered', 'failed', 'cancelled');
CREATE INDEX idx_webhook_events_occurred ON webhook_events (occurred_at);

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    id             BIGSERIAL PRIMARY KEY,
    delivery_id    BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at   TIMESTAMPTZ NOT NULL,
    duration_ms    INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    response_excerpt TEXT
);
CREATE INDEX idx_webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- What each webhook was last told about an opportunity: opportunity.updated goes out only on a
-- material change against these values, opportunity.closed only for what the webhook heard opened.
CREATE TABLE webhook_notified (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    opportunity_id  TEXT NOT NULL,
    annualized_apy  NUMERIC,      -- percent
    divergence      NUMERIC,      -- per 8 h, fraction
    PRIMARY KEY (webhook_id, opportunity_id)
);
