-- 0001_core_tables: reference and bookkeeping tables (SPEC.md "Database Schema", DESIGN.md §5).
--
-- Conventions: TIMESTAMPTZ everywhere (UTC); rates, prices and amounts are unconstrained NUMERIC so
-- the Decimals the venues publish round-trip exactly; fees are fractions of notional
-- (0.00015 = 0.015 %). SPEC.md's MySQL-style inline INDEX clauses are real CREATE INDEX here.

CREATE TABLE dexes (
    id                          SERIAL PRIMARY KEY,
    name                        VARCHAR(50) UNIQUE NOT NULL,       -- registry id used by the API
    display_name                VARCHAR(100) NOT NULL,
    api_base_url                VARCHAR(255),
    websocket_url               VARCHAR(255),
    is_active                   BOOLEAN NOT NULL DEFAULT TRUE,
    supports_websocket          BOOLEAN NOT NULL DEFAULT FALSE,
    -- fees as fractions of notional, base tier; tiers in fee_metadata
    maker_fee_percent           NUMERIC NOT NULL DEFAULT 0,
    taker_fee_percent           NUMERIC NOT NULL DEFAULT 0,
    has_fee_tiers               BOOLEAN NOT NULL DEFAULT FALSE,
    -- {"tiers": [{"min_volume_30d", "max_volume_30d" (null = unbounded), "maker_fee", "taker_fee"}], ...}
    fee_metadata                JSONB NOT NULL DEFAULT '{}'::jsonb,
    funding_interval_hours      NUMERIC NOT NULL DEFAULT 8,        -- venue default; per market in dex_symbols
    collection_interval_seconds INTEGER NOT NULL DEFAULT 60,
    rate_limit_per_minute       INTEGER NOT NULL DEFAULT 60,
    -- health
    last_successful_fetch       TIMESTAMPTZ,
    last_error                  TIMESTAMPTZ,
    last_error_message          TEXT,
    consecutive_errors          INTEGER NOT NULL DEFAULT 0,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_dexes_is_active ON dexes (is_active);

CREATE TABLE symbols (
    id            SERIAL PRIMARY KEY,
    symbol        VARCHAR(32) UNIQUE NOT NULL,   -- normalized base asset: BTC, PEPE (for kPEPE)
    display_name  VARCHAR(50),
    category      VARCHAR(20),
    first_seen    TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_symbols_active ON symbols (is_active);

-- Which symbol trades where, under which venue name, with the latest market context.
CREATE TABLE dex_symbols (
    id                      SERIAL PRIMARY KEY,
    dex_id                  INTEGER NOT NULL REFERENCES dexes (id) ON DELETE CASCADE,
    symbol_id               INTEGER NOT NULL REFERENCES symbols (id) ON DELETE CASCADE,
    dex_symbol_format       VARCHAR(64) NOT NULL,        -- venue's own name: kPEPE, BTC-USD-PERP
    is_active               BOOLEAN NOT NULL DEFAULT TRUE,
    funding_interval_hours  NUMERIC,
    multiplier              NUMERIC NOT NULL DEFAULT 1,  -- 1000 for kPEPE / 1000PEPE
    quote                   VARCHAR(16),
    min_order_size          NUMERIC,
    max_order_size          NUMERIC,
    tick_size               NUMERIC,
    mark_price              NUMERIC,                     -- per ONE base unit (multiplier applied)
    index_price             NUMERIC,
    volume_24h              NUMERIC,                     -- USD notional
    volume_24h_base         NUMERIC,
    open_interest_usd       NUMERIC,
    open_interest_base      NUMERIC,
    best_bid                NUMERIC,
    best_ask                NUMERIC,
    spread_bps              NUMERIC,
    last_updated            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (dex_id, symbol_id)
) WITH (fillfactor = 50);   -- every market row is rewritten each collection: leave room on the page
CREATE INDEX idx_dex_symbols_symbol ON dex_symbols (symbol_id);
CREATE INDEX idx_dex_symbols_active ON dex_symbols (is_active);
-- SPEC's idx_dex_symbols_volume / idx_dex_symbols_oi are left out on purpose: volume and OI change on
-- every collection, and an index on them makes each of those updates non-HOT (all five indexes
-- rewritten: ~3x the cost). The table holds one row per market (~1-2k rows) and is read per venue;
-- low-OI filtering runs on opportunities (idx_opportunities_min_oi / max_oi) and in memory.

-- Newest snapshot per market: every MarketSnapshot field, so the API can rebuild snapshots from it.
CREATE TABLE latest_funding_rates (
    dex_id                  INTEGER NOT NULL REFERENCES dexes (id) ON DELETE CASCADE,
    symbol_id               INTEGER NOT NULL REFERENCES symbols (id) ON DELETE CASCADE,
    time                    TIMESTAMPTZ NOT NULL,        -- = fetched_at of the snapshot
    dex_symbol_format       VARCHAR(64) NOT NULL,
    funding_rate            NUMERIC NOT NULL,            -- fraction per funding interval
    funding_interval_hours  NUMERIC NOT NULL,
    rate_1h                 NUMERIC GENERATED ALWAYS AS (funding_rate / funding_interval_hours) STORED,
    rate_8h                 NUMERIC GENERATED ALWAYS AS (funding_rate * 8 / funding_interval_hours) STORED,
    next_funding_time       TIMESTAMPTZ,
    predicted_rate          NUMERIC,
    mark_price              NUMERIC NOT NULL,
    index_price             NUMERIC,
    open_interest_usd       NUMERIC,
    open_interest_base      NUMERIC,
    volume_24h              NUMERIC,
    best_bid                NUMERIC,
    best_ask                NUMERIC,
    multiplier              NUMERIC NOT NULL DEFAULT 1,
    quote                   VARCHAR(16) NOT NULL DEFAULT 'USD',
    venue_time              TIMESTAMPTZ,
    collection_latency_ms   INTEGER,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dex_id, symbol_id)
) WITH (fillfactor = 50);   -- rewritten every collection; free space lets updates stay HOT (no index churn)
CREATE INDEX idx_latest_rates_symbol ON latest_funding_rates (symbol_id);

CREATE TABLE collection_logs (
    id              BIGSERIAL PRIMARY KEY,
    dex_id          INTEGER REFERENCES dexes (id) ON DELETE CASCADE,
    started_at      TIMESTAMPTZ NOT NULL,
    completed_at    TIMESTAMPTZ,
    status          VARCHAR(20) NOT NULL CHECK (status IN ('success', 'partial', 'failed')),
    symbols_fetched INTEGER NOT NULL DEFAULT 0,   -- SPEC name; = markets
    symbols_failed  INTEGER NOT NULL DEFAULT 0,   -- SPEC name; = rejected
    markets         INTEGER NOT NULL DEFAULT 0,   -- snapshots stored
    rejected        INTEGER NOT NULL DEFAULT 0,   -- records failing validation
    latency_ms      INTEGER,
    error_message   TEXT
);
CREATE INDEX idx_collection_logs_dex_time ON collection_logs (dex_id, started_at DESC);
CREATE INDEX idx_collection_logs_started ON collection_logs (started_at);

-- Circuit-breaker state per venue when Redis is absent (chalicelib/transport/breaker.py StorageStore).
CREATE TABLE circuit_breakers (
    dex         VARCHAR(50) PRIMARY KEY,
    state       VARCHAR(16) NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures    INTEGER NOT NULL DEFAULT 0,
    opened_at   TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
