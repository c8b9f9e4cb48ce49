-- Settled funding (sql/0009_settlements.sql) and the calibration that compares it with collected rates.

-- name: insert_settlements
-- One market's settlements; re-fetching the same instants inserts nothing (idempotent). Each is paired on
-- the way in with the last rate_1h the service COLLECTED for that market before it, within one interval
-- (sql/0013: collected rows carry collection_latency_ms, backfilled history rows do not; one primary-key
-- descent per settlement).
INSERT INTO settlements (time, dex_id, symbol_id, funding_rate, funding_interval_hours, mark_price, source,
                         settled_1h, published_1h)
SELECT p.at, %(dex_id)s, %(symbol_id)s, p.rate, p.hours, p.mark, %(source)s, p.rate::float8 / p.hours::float8,
       (SELECT f.rate_1h FROM funding_rates f
        WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.collection_latency_ms IS NOT NULL
          AND f.time < p.at AND f.time >= p.at - p.hours * INTERVAL '1 hour'
        ORDER BY f.time DESC LIMIT 1)
FROM (SELECT TIMESTAMPTZ 'epoch' + u.t * INTERVAL '1 millisecond' AS at, u.rate, u.hours, u.mark
      FROM unnest(%(times)s::bigint[], %(rates)s::numeric[], %(hours)s::numeric[], %(marks)s::numeric[])
           AS u (t, rate, hours, mark)) p
ON CONFLICT (dex_id, symbol_id, time) DO NOTHING

-- name: last_settlements
-- The newest stored settlement per market of one venue (ms), to fetch only what is new.
SELECT s.symbol, (extract(epoch FROM max(st.time)) * 1000)::bigint AS last_ms
FROM settlements st JOIN dexes d ON d.id = st.dex_id JOIN symbols s ON s.id = st.symbol_id
WHERE d.name = %(dex)s AND st.time >= %(since)s
GROUP BY s.symbol

-- name: calibration_pairs
-- Each settlement of one venue since %(since)s with the rate published before it (paired when stored,
-- sql/0013), both in rate_1h terms (fraction per hour). Unpaired settlements (nothing collected in their
-- interval) are left out.
SELECT s.symbol, (extract(epoch FROM st.time) * 1000)::bigint AS time_ms,
       st.funding_rate / st.funding_interval_hours AS settled_1h, st.published_1h::numeric AS published_1h
FROM settlements st
JOIN dexes d ON d.id = st.dex_id
JOIN symbols s ON s.id = st.symbol_id
WHERE d.name = %(dex)s AND st.time >= %(since)s AND st.published_1h IS NOT NULL
ORDER BY st.time

-- name: calibration_recent
-- The verdict window's pairs of one venue: (published_1h, settled_1h) as floats (a unit verdict needs 4
-- significant digits); an index-only scan of idx_settlements_calibration (sql/0013).
SELECT st.published_1h, st.settled_1h
FROM settlements st
WHERE st.dex_id = (SELECT id FROM dexes WHERE name = %(dex)s) AND st.time >= %(since)s
  AND st.published_1h IS NOT NULL

-- name: calibration_bands
-- Accuracy sums per market and age band (core.calibration.Bands), float8 throughout. Band 0: age < 24 h
-- (time after %(cut_0)s = now - 24 h), band 1: 24 h <= age < 7 d (after %(cut_1)s), band 2: 7 d <= age < 30 d
-- (after %(since)s) - the core's `bands` for its three windows; older rows are left out.
-- diff = published - settled. Grouped by symbol id, named after; an index-only scan of
-- idx_settlements_calibration (sql/0013). (A generic width_bucket over a cut-off array cost ~8 us a row.)
SELECT s.symbol, a.band, a.n, a.signed, a.hits, a.sum_diff, a.sum_abs
FROM (SELECT st.symbol_id, CASE WHEN st.time > %(cut_0)s THEN 0 WHEN st.time > %(cut_1)s THEN 1 ELSE 2 END AS band,
             count(*) AS n,
             count(*) FILTER (WHERE st.published_1h <> 0 AND st.settled_1h <> 0) AS signed,
             count(*) FILTER (WHERE st.published_1h <> 0 AND st.settled_1h <> 0
                              AND (st.published_1h > 0) = (st.settled_1h > 0)) AS hits,
             sum(st.published_1h - st.settled_1h) AS sum_diff, sum(abs(st.published_1h - st.settled_1h)) AS sum_abs
      FROM settlements st
      WHERE st.dex_id = (SELECT id FROM dexes WHERE name = %(dex)s) AND st.time > %(since)s
        AND st.published_1h IS NOT NULL
      GROUP BY st.symbol_id, band) a
JOIN symbols s ON s.id = a.symbol_id

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
