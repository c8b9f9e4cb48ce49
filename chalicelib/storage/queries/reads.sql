-- Reads for analysis, REST and health. Times are TIMESTAMPTZ; epoch ms where a MarketSnapshot needs them.

-- name: latest_snapshots
-- Every field of MarketSnapshot; dex / symbol filters are optional (NULL = all).
SELECT d.name AS dex, s.symbol, l.dex_symbol_format AS dex_symbol, l.funding_rate, l.funding_interval_hours,
       l.mark_price, (extract(epoch FROM l.time) * 1000)::bigint AS fetched_at_ms, l.index_price,
       l.open_interest_usd, l.open_interest_base, l.volume_24h AS volume_24h_usd, l.best_bid, l.best_ask,
       (extract(epoch FROM l.next_funding_time) * 1000)::bigint AS next_funding_time_ms,
       (extract(epoch FROM l.venue_time) * 1000)::bigint AS venue_ts_ms,
       l.multiplier, l.quote, l.collection_latency_ms
FROM latest_funding_rates l
JOIN dexes d ON d.id = l.dex_id
JOIN symbols s ON s.id = l.symbol_id
WHERE (%(dex)s::text IS NULL OR d.name = %(dex)s::text)
  AND (%(symbol)s::text IS NULL OR s.symbol = %(symbol)s::text)
ORDER BY d.name, s.symbol

-- name: fee_schedules
SELECT name, maker_fee_percent, taker_fee_percent, fee_metadata -> 'tiers' AS tiers FROM dexes ORDER BY name

-- name: update_fees
-- Base fees + tiers (kept in fee_metadata.tiers, other metadata keys preserved); NULL max = unbounded.
UPDATE dexes SET
    maker_fee_percent = %(maker)s,
    taker_fee_percent = %(taker)s,
    has_fee_tiers = cardinality(%(mins)s::numeric[]) > 0,
    fee_metadata = coalesce(fee_metadata, '{}'::jsonb) || jsonb_build_object('tiers', coalesce(
        (SELECT jsonb_agg(jsonb_build_object('min_volume_30d', t.mn, 'max_volume_30d', t.mx,
                                             'maker_fee', t.mk, 'taker_fee', t.tk) ORDER BY t.ord)
         FROM unnest(%(mins)s::numeric[], %(maxs)s::numeric[], %(makers)s::numeric[], %(takers)s::numeric[])
              WITH ORDINALITY AS t (mn, mx, mk, tk, ord)),
        '[]'::jsonb)),
    updated_at = now()
WHERE name = %(dex)s
RETURNING id

-- name: dexes
-- The dexes table with fee tiers and the list of symbols currently listed there.
SELECT d.id, d.name, d.display_name, d.api_base_url, d.websocket_url, d.is_active, d.supports_websocket,
       d.maker_fee_percent, d.taker_fee_percent, d.has_fee_tiers, d.fee_metadata,
       coalesce(d.fee_metadata -> 'tiers', '[]'::jsonb) AS fee_tiers, d.funding_interval_hours,
       d.collection_interval_seconds, d.rate_limit_per_minute, d.last_successful_fetch, d.last_error,
       d.last_error_message, d.consecutive_errors, d.created_at, d.updated_at,
       array(SELECT s.symbol FROM dex_symbols ds JOIN symbols s ON s.id = ds.symbol_id
             WHERE ds.dex_id = d.id AND ds.is_active ORDER BY s.symbol) AS supported_symbols,
       n.status AS last_collection_status, n.error_message AS last_collection_reason,
       n.markets AS last_collection_markets, n.markets_unfetched AS last_collection_markets_unfetched,
       n.started_at AS last_collection_at
FROM dexes d
LEFT JOIN LATERAL (SELECT status, error_message, markets, markets_unfetched, started_at
                   FROM collection_logs WHERE dex_id = d.id ORDER BY started_at DESC LIMIT 1) n ON TRUE
ORDER BY d.name

-- name: dex_symbols
SELECT s.symbol, ds.dex_symbol_format, ds.is_active, ds.funding_interval_hours, ds.multiplier, ds.quote,
       ds.min_order_size, ds.max_order_size, ds.tick_size, ds.mark_price, ds.index_price, ds.volume_24h,
       ds.volume_24h_base, ds.open_interest_usd, ds.open_interest_base, ds.best_bid, ds.best_ask, ds.spread_bps,
       ds.last_updated
FROM dex_symbols ds
JOIN dexes d ON d.id = ds.dex_id
JOIN symbols s ON s.id = ds.symbol_id
WHERE d.name = %(dex)s
ORDER BY s.symbol

-- name: known_symbols
-- Symbols listed (now or before) on at least one venue.
SELECT DISTINCT s.symbol FROM symbols s JOIN dex_symbols ds ON ds.symbol_id = s.id

-- name: opportunity_history
-- Newest first; optional symbol and minimum net profit. Lifecycle events (sql/0010: opened | changed |
-- closed); rows stored before it, one per cycle, read as event 'snapshot'.
SELECT o.id, o.opportunity_key AS opportunity_id, coalesce(o.event, 'snapshot') AS event, o.opened_at, s.symbol, ld.name AS long_dex, sd.name AS short_dex,
       o.long_rate, o.short_rate, o.divergence, o.divergence_1h, o.estimated_fees, o.net_profit_percent,
       o.annualized_apy, o.gross_apr, o.breakeven_hours, o.hold_hours, o.fee_type,
       o.long_volume_24h, o.short_volume_24h, o.min_volume_24h, o.long_oi_usd, o.short_oi_usd, o.min_oi_usd,
       o.max_oi_usd, o.oi_ratio, o.oi_imbalance, o.long_spread_bps, o.short_spread_bps, o.avg_spread_bps,
       o.mark_spread_bps, o.long_mark_price, o.short_mark_price, o.long_interval_hours, o.short_interval_hours,
       o.discovered_at, o.valid_until, o.metadata
FROM opportunities o
JOIN symbols s ON s.id = o.symbol_id
JOIN dexes ld ON ld.id = o.long_dex_id
JOIN dexes sd ON sd.id = o.short_dex_id
WHERE o.discovered_at >= %(start)s AND o.discovered_at <= %(end)s
  AND (%(symbol)s::text IS NULL OR s.symbol = %(symbol)s::text)
  AND (%(min_profit)s::numeric IS NULL OR o.net_profit_percent >= %(min_profit)s::numeric)
ORDER BY o.discovered_at DESC, o.net_profit_percent DESC, o.id DESC
LIMIT %(limit)s OFFSET %(offset)s

-- name: opportunity_history_count
SELECT count(*)
FROM opportunities o
JOIN symbols s ON s.id = o.symbol_id
WHERE o.discovered_at >= %(start)s AND o.discovered_at <= %(end)s
  AND (%(symbol)s::text IS NULL OR s.symbol = %(symbol)s::text)
  AND (%(min_profit)s::numeric IS NULL OR o.net_profit_percent >= %(min_profit)s::numeric)

-- name: market_ids
-- (dex_id, symbol_id) of one market; no row when either name is unknown.
SELECT d.id AS dex_id, s.id AS symbol_id FROM dexes d, symbols s WHERE d.name = %(dex)s AND s.symbol = %(symbol)s

-- name: history_raw
-- Raw samples, oldest first, in [start, end].
SELECT f.time, f.rate_8h AS rate, f.funding_rate, f.funding_interval_hours, f.rate_1h, f.rate_8h,
       1 AS samples, f.time AS first_time, f.time AS last_time, f.mark_price, f.index_price,
       f.open_interest_usd, f.volume_24h
FROM funding_rates f
WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.time >= %(start)s AND f.time <= %(end)s
ORDER BY f.time ASC
LIMIT %(limit)s OFFSET %(offset)s

-- name: history_raw_count
SELECT count(*) FROM funding_rates f
WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.time >= %(start)s AND f.time <= %(end)s

-- name: history_buckets
-- Buckets of %(bucket)s seconds aligned on 2000-01-01T00:00Z (so hours and days start on the hour
-- and at midnight UTC), oldest first; averages of the normalized rates; the interval is the bucket's last.
SELECT date_bin(make_interval(secs => %(bucket)s::float8), f.time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       avg(f.rate_8h) AS rate, avg(f.funding_rate) AS funding_rate,
       (array_agg(f.funding_interval_hours ORDER BY f.time DESC))[1] AS funding_interval_hours,
       avg(f.rate_1h) AS rate_1h, avg(f.rate_8h) AS rate_8h, count(*) AS samples,
       min(f.time) AS first_time, max(f.time) AS last_time
FROM funding_rates f
WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.time >= %(start)s AND f.time <= %(end)s
GROUP BY 1
ORDER BY 1 ASC
LIMIT %(limit)s OFFSET %(offset)s

-- name: history_bucket_count
SELECT count(DISTINCT date_bin(make_interval(secs => %(bucket)s::float8), f.time,
                               TIMESTAMPTZ '2000-01-01 00:00:00+00'))
FROM funding_rates f
WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.time >= %(start)s AND f.time <= %(end)s

-- name: history_stats
-- Statistics of the raw rate_8h samples over the whole range (not of the bucket averages).
-- percentile_cont works in double precision.
SELECT avg(f.rate_8h) AS avg_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.rate_8h::float8) AS median_rate,
       stddev_samp(f.rate_8h) AS std_dev, min(f.rate_8h) AS min_rate, max(f.rate_8h) AS max_rate,
       count(*) AS samples
FROM funding_rates f
WHERE f.dex_id = %(dex_id)s AND f.symbol_id = %(symbol_id)s AND f.time >= %(start)s AND f.time <= %(end)s

-- name: rate_stats
-- Over rate_8h of one symbol on one venue, or on every venue when dex is NULL.
SELECT count(*) AS samples, avg(f.rate_8h) AS avg_rate,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY f.rate_8h::float8) AS quartiles,
       stddev_samp(f.rate_8h) AS std_dev, min(f.rate_8h) AS min_rate, max(f.rate_8h) AS max_rate,
       (count(*) FILTER (WHERE f.rate_8h > 0))::numeric / NULLIF(count(*), 0) AS positive_rate_frequency,
       avg(f.rate_1h) * 8760 * 100 AS avg_annualized_percent,
       min(f.time) AS first_time, max(f.time) AS last_time, count(DISTINCT f.dex_id) AS venues
FROM funding_rates f
-- dex_id = ANY(...) lets the (dex_id, symbol_id, time) primary key serve the all-venue case.
WHERE f.dex_id = ANY(ARRAY(SELECT id FROM dexes WHERE %(dex)s::text IS NULL OR name = %(dex)s::text))
  AND f.symbol_id = (SELECT id FROM symbols WHERE symbol = %(symbol)s)
  AND f.time >= %(start)s AND f.time <= %(end)s

-- name: collection_health
-- Per venue over the last %(window)s minutes; error rate counts 'failed' runs ('degraded' stored data).
-- last_*: the venue's newest run whenever it was (status, reason, markets the budget left unfetched).
SELECT d.name AS dex_name, d.name AS dex, d.is_active, count(l.id) AS collections,
       count(l.id) FILTER (WHERE l.status = 'failed') AS failures,
       coalesce(round(100.0 * count(l.id) FILTER (WHERE l.status = 'failed') / NULLIF(count(l.id), 0), 2), 0)
           AS error_rate_percent,
       round(avg(l.latency_ms), 1) AS avg_collection_latency_ms,
       d.last_successful_fetch, d.consecutive_errors, d.last_error, d.last_error_message,
       n.status AS last_status, n.error_message AS last_reason, n.markets AS last_markets,
       n.markets_unfetched AS last_markets_unfetched, n.baseline_markets AS last_baseline_markets,
       n.started_at AS last_at
FROM dexes d
LEFT JOIN collection_logs l ON l.dex_id = d.id AND l.started_at >= now() - make_interval(mins => %(window)s::int)
LEFT JOIN LATERAL (SELECT status, error_message, markets, markets_unfetched, baseline_markets, started_at
                   FROM collection_logs WHERE dex_id = d.id ORDER BY started_at DESC LIMIT 1) n ON TRUE
GROUP BY d.id, n.status, n.error_message, n.markets, n.markets_unfetched, n.baseline_markets, n.started_at
ORDER BY d.name

-- name: latest_collections
-- The newest collection_logs row of every venue that has one (the venue's current collection state).
SELECT d.name AS dex, n.status, n.error_message AS reason, n.markets, n.rejected, n.markets_unfetched,
       n.baseline_markets, n.started_at
FROM dexes d
JOIN LATERAL (SELECT status, error_message, markets, rejected, markets_unfetched, baseline_markets, started_at
              FROM collection_logs WHERE dex_id = d.id ORDER BY started_at DESC LIMIT 1) n ON TRUE
ORDER BY d.name

-- name: market_baseline
-- The venue's usual market count: median `markets` of its last %(runs)s runs that stored data (success or
-- degraded; count), and how many runs that median is over (core/venue_state.py decides whether that is
-- enough). Degraded runs count so a lasting change (a wave of delistings) becomes the new normal after
-- about half the window instead of keeping the venue degraded for ever.
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t.markets) AS markets, count(*) AS samples
FROM (SELECT l.markets FROM collection_logs l JOIN dexes d ON d.id = l.dex_id
      WHERE d.name = %(dex)s AND l.status <> 'failed'
      ORDER BY l.started_at DESC LIMIT %(runs)s) t

-- name: database_connections
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()

-- name: open_spells
-- The open opportunities (sql/0010) the next analysis run diffs against.
SELECT opportunity_key, (extract(epoch FROM opened_at) * 1000)::bigint AS opened_at_ms, divergence,
       long_interval_hours, short_interval_hours
FROM opportunity_open

-- name: hourly_rates
-- The average rate_8h of each market in each clock hour starting at %(hours)s (epoch ms), stored rows of
-- funding_rates (collected and backfilled). One index range per hour, so three scattered hours cost three.
SELECT (extract(epoch FROM h.start) * 1000)::bigint AS hour_ms, s.symbol, d.name AS dex,
       avg(f.rate_8h)::float8 AS rate_8h
FROM unnest(%(hours)s::bigint[]) AS u (ms)
CROSS JOIN LATERAL (SELECT TIMESTAMPTZ 'epoch' + u.ms * INTERVAL '1 millisecond' AS start) h
JOIN funding_rates f ON f.time >= h.start AND f.time < h.start + INTERVAL '1 hour'
JOIN dexes d ON d.id = f.dex_id
JOIN symbols s ON s.id = f.symbol_id
GROUP BY 1, 2, 3
