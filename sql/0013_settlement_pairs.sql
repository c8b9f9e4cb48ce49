-- 0013_settlement_pairs: each settlement carries the rate the service PUBLISHED before it, paired once.
--
-- published_1h = the last rate_1h the service COLLECTED for that market before the settlement instant,
-- within one interval of it (collected rows carry collection_latency_ms; backfilled history rows do not,
-- so a settlement is never paired with another settlement); NULL = nothing collected in that interval.
-- settled_1h = funding_rate / funding_interval_hours. Both fractions per hour, in double precision: they
-- feed the calibration (a unit verdict and accuracy figures to 4-12 significant digits), which sums ~150k
-- of them per venue per run; numeric -> float8 casts at read time cost more than the sums (funding_rate
-- keeps the exact value the venue paid).
-- Paired when the settlement is stored (insert_settlements: one primary-key descent on funding_rates per
-- settlement, ~1,000 an hour), so a calibration run reads stored pairs instead of re-pairing 30 days of
-- settlements every hour with a LATERAL lookup each.
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS settled_1h DOUBLE PRECISION;
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS published_1h DOUBLE PRECISION;   -- NULL = unpaired

-- Settlements already stored (before this migration): computed and paired now, as insert_settlements does.
UPDATE settlements st SET
    settled_1h = st.funding_rate::float8 / st.funding_interval_hours::float8,
    published_1h = (
        SELECT f.rate_1h FROM funding_rates f
        WHERE f.dex_id = st.dex_id AND f.symbol_id = st.symbol_id AND f.collection_latency_ms IS NOT NULL
          AND f.time < st.time AND f.time >= st.time - st.funding_interval_hours * INTERVAL '1 hour'
        ORDER BY f.time DESC LIMIT 1)
WHERE st.settled_1h IS NULL;

-- The calibration's reads (a venue's last 30 days of pairs) as index-only scans: the pair columns ride in the
-- index, so a run reads ~40-byte index tuples instead of heap rows (source text, numerics). Measured on the
-- bench/calibration.py data: the per-market accuracy sums took half the time. One more index entry per
-- settlement (~1,000 an hour) is the cost.
CREATE INDEX IF NOT EXISTS idx_settlements_calibration ON settlements (dex_id, time)
    INCLUDE (symbol_id, settled_1h, published_1h);
