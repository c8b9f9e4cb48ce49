-- 0013_settlement_pairs: each settlement carries the rate the service PUBLISHED before it, paired once.
--
-- published_1h = the last rate_1h the service COLLECTED for that market before the settlement instant,
-- within one interval of it (collected rows carry collection_latency_ms; backfilled history rows do not,
-- so a settlement is never paired with another settlement); NULL = nothing collected in that interval.
-- Paired when the settlement is stored (insert_settlements: one primary-key descent on funding_rates per
-- settlement, ~1,000 an hour), so a calibration run reads stored pairs instead of re-pairing 30 days of
-- settlements every hour (the LATERAL lookup over 720k settlements was most of a run's time).
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS published_1h NUMERIC;   -- fraction per hour; NULL = unpaired

-- Settlements already stored (before this migration): paired now, as insert_settlements pairs new ones.
UPDATE settlements st SET published_1h = (
    SELECT f.rate_1h FROM funding_rates f
    WHERE f.dex_id = st.dex_id AND f.symbol_id = st.symbol_id AND f.collection_latency_ms IS NOT NULL
      AND f.time < st.time AND f.time >= st.time - st.funding_interval_hours * INTERVAL '1 hour'
    ORDER BY f.time DESC LIMIT 1)
WHERE st.published_1h IS NULL;
