-- 0010_opportunity_lifecycle: opportunity history stores lifecycle EVENTS, not one row per analysis cycle.
--
-- opportunities gains `event` (opened | changed | closed; core/lifecycle.py defines them and the
-- material-change threshold) and `opened_at` (when the spell the event belongs to opened). The analysis
-- writes a row only on an event, with the values at it (`closed` repeats the values last recorded).
-- Rows stored before this migration (one per cycle) keep event NULL: /history/opportunities shows them
-- as event "snapshot". Plain ALTERs: they work on the partitioned table and on the TimescaleDB hypertable.
ALTER TABLE opportunities ADD COLUMN event TEXT CHECK (event IN ('opened', 'changed', 'closed'));
ALTER TABLE opportunities ADD COLUMN opened_at TIMESTAMPTZ;

-- The open spells: one row per opportunity open now (what the next run diffs against; durable, so a
-- Redis flush or a cold start neither re-opens nor forgets them). Small: only open opportunities.
CREATE TABLE IF NOT EXISTS opportunity_open (
    opportunity_key       TEXT PRIMARY KEY,         -- stable "SYMBOL:long_dex:short_dex"
    opened_at             TIMESTAMPTZ NOT NULL,
    divergence            NUMERIC NOT NULL,         -- per 8 h, as last recorded (opened or changed)
    long_interval_hours   NUMERIC,
    short_interval_hours  NUMERIC,
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
