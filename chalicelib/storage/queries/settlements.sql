-- Settled funding (sql/0009_settlements.sql) and the calibration that compares it with collected rates.

-- name: insert_settlements
-- One market's settlements; re-fetching the same instants inserts nothing (idempotent).
INSERT INTO settlements (time, dex_id, symbol_id, funding_rate, funding_interval_hours, mark_price, source)
SELECT TIMESTAMPTZ 'epoch' + p.t * INTERVAL '1 millisecond', %(dex_id)s, %(symbol_id)s, p.rate, p.hours, p.mark,
       %(source)s
FROM unnest(%(times)s::bigint[], %(rates)s::numeric[], %(hours)s::numeric[], %(marks)s::numeric[])
     AS p (t, rate, hours, mark)
ON CONFLICT (dex_id, symbol_id, time) DO NOTHING

-- name: last_settlements
-- The newest stored settlement per market of one venue (ms), to fetch only what is new.
SELECT s.symbol, (extract(epoch FROM max(st.time)) * 1000)::bigint AS last_ms
FROM settlements st JOIN dexes d ON d.id = st.dex_id JOIN symbols s ON s.id = st.symbol_id
WHERE d.name = %(dex)s AND st.time >= %(since)s
GROUP BY s.symbol

-- name: calibration_pairs
-- Each settlement of one venue since %(since)s with the last rate the service COLLECTED for that market
-- before it (within one interval of it). Collected rows carry collection_latency_ms; backfilled history
-- rows (time = settlement instant) do not, so a settlement is never paired with another settlement.
-- Both sides in rate_1h terms (fraction per hour).
SELECT s.symbol, (extract(epoch FROM st.time) * 1000)::bigint AS time_ms,
       st.funding_rate / st.funding_interval_hours AS settled_1h, p.rate_1h AS published_1h
FROM settlements st
JOIN dexes d ON d.id = st.dex_id
JOIN symbols s ON s.id = st.symbol_id
CROSS JOIN LATERAL (
    SELECT f.rate_1h FROM funding_rates f
    WHERE f.dex_id = st.dex_id AND f.symbol_id = st.symbol_id AND f.collection_latency_ms IS NOT NULL
      AND f.time < st.time AND f.time >= st.time - st.funding_interval_hours * INTERVAL '1 hour'
    ORDER BY f.time DESC LIMIT 1) p
WHERE d.name = %(dex)s AND st.time >= %(since)s
ORDER BY st.time

-- name: save_calibration
INSERT INTO venue_calibration (dex, status, factor, sign_agreement, samples, window_hours, report, updated_at)
VALUES (%(dex)s, %(status)s, %(factor)s, %(sign_agreement)s, %(samples)s, %(window_hours)s, %(report)s, now())
ON CONFLICT (dex) DO UPDATE SET status = EXCLUDED.status, factor = EXCLUDED.factor,
    sign_agreement = EXCLUDED.sign_agreement, samples = EXCLUDED.samples, window_hours = EXCLUDED.window_hours,
    report = EXCLUDED.report, updated_at = EXCLUDED.updated_at

-- name: calibrations
SELECT dex, status, factor, sign_agreement, samples, window_hours, report, updated_at FROM venue_calibration
ORDER BY dex

-- name: settlement_history
-- One market's settlements in [start, end], oldest first, paged.
SELECT st.time, st.funding_rate, st.funding_interval_hours, st.funding_rate / st.funding_interval_hours AS rate_1h,
       st.mark_price, st.source, count(*) OVER () AS total
FROM settlements st
WHERE st.dex_id = %(dex_id)s AND st.symbol_id = %(symbol_id)s AND st.time >= %(start)s AND st.time <= %(end)s
ORDER BY st.time
LIMIT %(limit)s OFFSET %(offset)s

-- name: settlements_between
-- One market's settlements in (start, end], oldest first (backtests, realized returns).
SELECT (extract(epoch FROM st.time) * 1000)::bigint AS time_ms, st.funding_rate, st.funding_interval_hours
FROM settlements st JOIN dexes d ON d.id = st.dex_id JOIN symbols s ON s.id = st.symbol_id
WHERE d.name = %(dex)s AND s.symbol = %(symbol)s AND st.time > %(start)s AND st.time <= %(end)s
ORDER BY st.time

-- name: collected_hourly
-- Where a venue has no settlements: the COLLECTED rate history as hourly accruals (avg rate_1h of
-- each clock hour, paid at the hour's end). An estimate, labelled as such by the caller.
SELECT (extract(epoch FROM date_bin('1 hour', f.time, TIMESTAMPTZ 'epoch') + INTERVAL '1 hour') * 1000)::bigint
         AS time_ms, avg(f.rate_1h) AS funding_rate, 1 AS funding_interval_hours
FROM funding_rates f JOIN dexes d ON d.id = f.dex_id JOIN symbols s ON s.id = f.symbol_id
WHERE d.name = %(dex)s AND s.symbol = %(symbol)s AND f.time > %(start)s AND f.time <= %(end)s
  AND f.collection_latency_ms IS NOT NULL
GROUP BY 1 ORDER BY 1

-- name: realized_sums
-- Settled funding per market over a window: the sum of per-interval rates (fraction of notional paid
-- to shorts by longs) and the count, for every market with settlements since %(since)s.
SELECT d.name AS dex, s.symbol, sum(st.funding_rate) AS funding_sum, count(*) AS settlements
FROM settlements st JOIN dexes d ON d.id = st.dex_id JOIN symbols s ON s.id = st.symbol_id
WHERE st.time > %(since)s
GROUP BY d.name, s.symbol
