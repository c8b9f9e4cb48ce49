-- 0008_backfill_progress: what `frs backfill` has finished, one row per venue market per UTC day.
--
-- A day is recorded only AFTER its funding_rates rows are committed, and only when the whole day lies
-- in the past at fetch time (today's partial day is always refetched). A rerun skips recorded days; a
-- crash between the insert and this record costs one refetch, never a gap (history writes are
-- idempotent: ON CONFLICT DO NOTHING on funding_rates' primary key).
CREATE TABLE IF NOT EXISTS backfill_days (
    dex          TEXT        NOT NULL,            -- registry id, e.g. 'lighter'
    dex_symbol   TEXT        NOT NULL,            -- the venue's own market name, e.g. 'ETH', 'BTC-USD-PERP'
    day          DATE        NOT NULL,            -- UTC day fully covered
    kind         TEXT        NOT NULL DEFAULT 'rates',   -- 'rates' (funding_rates); room for settlements
    rows_stored  INTEGER     NOT NULL DEFAULT 0,  -- rows the window inserted (shared by its days: informative)
    completed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dex, kind, dex_symbol, day)
);
