-- Ingest path: venue/symbol discovery, COPY into a session staging table, set-based upserts.

-- name: dex_ids
-- id of each venue name given.
SELECT name, id FROM dexes WHERE name = ANY(%(names)s::text[])

-- name: insert_dexes
-- A venue not seeded by migration (a new module, a discovered HIP-3 dex): described by its VenueSpec.
-- An existing row (admin-updated fees) is never overwritten.
INSERT INTO dexes (name, display_name, api_base_url, maker_fee_percent, taker_fee_percent, fee_metadata,
                   funding_interval_hours, rate_limit_per_minute)
SELECT * FROM unnest(%(names)s::text[], %(display_names)s::text[], %(urls)s::text[], %(makers)s::numeric[],
                     %(takers)s::numeric[], %(metadata)s::jsonb[], %(intervals)s::numeric[], %(limits)s::int[])
ON CONFLICT (name) DO NOTHING

-- name: insert_symbols
-- Symbol auto-discovery: one statement for every new symbol of the batch.
INSERT INTO symbols (symbol)
SELECT s FROM unnest(%(symbols)s::text[]) AS s
ON CONFLICT (symbol) DO NOTHING

-- name: symbol_ids
SELECT symbol, id FROM symbols WHERE symbol = ANY(%(symbols)s::text[])

-- name: create_stage
-- Per-session staging table (temp tables are never WAL-logged); emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS frs_stage (
    dex_id                  integer NOT NULL,
    symbol_id               integer NOT NULL,
    fetched_ms              bigint NOT NULL,
    funding_rate            numeric NOT NULL,
    funding_interval_hours  numeric NOT NULL,
    next_funding_ms         bigint,
    venue_ms                bigint,
    mark_price              numeric NOT NULL,
    index_price             numeric,
    open_interest_usd       numeric,
    open_interest_base      numeric,
    volume_24h              numeric,
    best_bid                numeric,
    best_ask                numeric,
    collection_latency_ms   integer,
    dex_symbol              text NOT NULL,
    multiplier              numeric NOT NULL,
    quote                   text NOT NULL,
    min_order_size          numeric,
    is_latest               boolean NOT NULL    -- newest row of its market in this batch (set by Python)
) ON COMMIT DELETE ROWS

-- name: copy_stage
COPY frs_stage (dex_id, symbol_id, fetched_ms, funding_rate, funding_interval_hours, next_funding_ms, venue_ms,
                mark_price, index_price, open_interest_usd, open_interest_base, volume_24h, best_bid, best_ask,
                collection_latency_ms, dex_symbol, multiplier, quote, min_order_size, is_latest)
FROM STDIN (FORMAT BINARY)

-- name: copy_funding_rates
-- Fast path for new data (the normal case: every collection has a new fetch time): COPY straight
-- into the partitioned table, inside a savepoint. A unique violation (a batch sent again) rolls the
-- savepoint back and the batch goes through frs_stage + stage_to_funding_rates instead.
COPY funding_rates (time, dex_id, symbol_id, funding_rate, funding_interval_hours, next_funding_time, index_price,
                    mark_price, open_interest_usd, volume_24h, best_bid, best_ask, venue_time, fetched_at,
                    collection_latency_ms)
FROM STDIN (FORMAT BINARY)

-- name: stage_to_funding_rates
-- Idempotent: the same snapshot (same fetch time) twice is one row. Epoch ms -> timestamptz exactly.
INSERT INTO funding_rates (time, dex_id, symbol_id, funding_rate, funding_interval_hours, next_funding_time,
                           index_price, mark_price, open_interest_usd, volume_24h, best_bid, best_ask,
                           venue_time, fetched_at, collection_latency_ms)
SELECT TIMESTAMPTZ 'epoch' + fetched_ms * INTERVAL '1 millisecond', dex_id, symbol_id, funding_rate,
       funding_interval_hours, TIMESTAMPTZ 'epoch' + next_funding_ms * INTERVAL '1 millisecond',
       index_price, mark_price, open_interest_usd, volume_24h, best_bid, best_ask,
       TIMESTAMPTZ 'epoch' + venue_ms * INTERVAL '1 millisecond',
       TIMESTAMPTZ 'epoch' + fetched_ms * INTERVAL '1 millisecond', collection_latency_ms
FROM frs_stage
ON CONFLICT (time, dex_id, symbol_id) DO UPDATE SET
    funding_rate = EXCLUDED.funding_rate,
    funding_interval_hours = EXCLUDED.funding_interval_hours,
    next_funding_time = EXCLUDED.next_funding_time,
    index_price = EXCLUDED.index_price,
    mark_price = EXCLUDED.mark_price,
    open_interest_usd = EXCLUDED.open_interest_usd,
    volume_24h = EXCLUDED.volume_24h,
    best_bid = EXCLUDED.best_bid,
    best_ask = EXCLUDED.best_ask,
    venue_time = EXCLUDED.venue_time,
    collection_latency_ms = EXCLUDED.collection_latency_ms

-- name: stage_to_latest
-- Newest snapshot per market; an older batch arriving late never overwrites a newer row.
INSERT INTO latest_funding_rates AS l (dex_id, symbol_id, time, dex_symbol_format, funding_rate,
                                       funding_interval_hours, next_funding_time, mark_price, index_price,
                                       open_interest_usd, open_interest_base, volume_24h, best_bid, best_ask,
                                       multiplier, quote, venue_time, collection_latency_ms, updated_at)
SELECT dex_id, symbol_id, TIMESTAMPTZ 'epoch' + fetched_ms * INTERVAL '1 millisecond', dex_symbol, funding_rate,
       funding_interval_hours, TIMESTAMPTZ 'epoch' + next_funding_ms * INTERVAL '1 millisecond', mark_price,
       index_price, open_interest_usd, open_interest_base, volume_24h, best_bid, best_ask, multiplier, quote,
       TIMESTAMPTZ 'epoch' + venue_ms * INTERVAL '1 millisecond', collection_latency_ms, now()
FROM frs_stage
WHERE is_latest
ON CONFLICT (dex_id, symbol_id) DO UPDATE SET
    time = EXCLUDED.time,
    dex_symbol_format = EXCLUDED.dex_symbol_format,
    funding_rate = EXCLUDED.funding_rate,
    funding_interval_hours = EXCLUDED.funding_interval_hours,
    next_funding_time = EXCLUDED.next_funding_time,
    mark_price = EXCLUDED.mark_price,
    index_price = EXCLUDED.index_price,
    open_interest_usd = EXCLUDED.open_interest_usd,
    open_interest_base = EXCLUDED.open_interest_base,
    volume_24h = EXCLUDED.volume_24h,
    best_bid = EXCLUDED.best_bid,
    best_ask = EXCLUDED.best_ask,
    multiplier = EXCLUDED.multiplier,
    quote = EXCLUDED.quote,
    venue_time = EXCLUDED.venue_time,
    collection_latency_ms = EXCLUDED.collection_latency_ms,
    updated_at = now()
WHERE l.time <= EXCLUDED.time

-- name: stage_to_dex_symbols
-- Market listing + latest market context; (re)activates a market seen again.
INSERT INTO dex_symbols AS ds (dex_id, symbol_id, dex_symbol_format, is_active, funding_interval_hours, multiplier,
                               quote, mark_price, index_price, volume_24h, open_interest_usd, open_interest_base,
                               best_bid, best_ask, spread_bps, min_order_size, last_updated)
SELECT dex_id, symbol_id, dex_symbol, TRUE, funding_interval_hours, multiplier, quote, mark_price, index_price,
       volume_24h, open_interest_usd, open_interest_base, best_bid, best_ask,
       CASE WHEN best_bid > 0 AND best_ask > 0
            THEN (best_ask - best_bid) / ((best_ask + best_bid) / 2) * 10000 END,
       min_order_size, TIMESTAMPTZ 'epoch' + fetched_ms * INTERVAL '1 millisecond'
FROM frs_stage
WHERE is_latest
ON CONFLICT (dex_id, symbol_id) DO UPDATE SET
    dex_symbol_format = EXCLUDED.dex_symbol_format,
    is_active = TRUE,
    funding_interval_hours = EXCLUDED.funding_interval_hours,
    multiplier = EXCLUDED.multiplier,
    quote = EXCLUDED.quote,
    mark_price = EXCLUDED.mark_price,
    index_price = EXCLUDED.index_price,
    volume_24h = EXCLUDED.volume_24h,
    open_interest_usd = EXCLUDED.open_interest_usd,
    open_interest_base = EXCLUDED.open_interest_base,
    best_bid = EXCLUDED.best_bid,
    best_ask = EXCLUDED.best_ask,
    spread_bps = EXCLUDED.spread_bps,
    min_order_size = coalesce(EXCLUDED.min_order_size, ds.min_order_size),   -- a venue that stops sending it keeps the last
    last_updated = EXCLUDED.last_updated
WHERE ds.last_updated <= EXCLUDED.last_updated

-- name: copy_opportunities
COPY opportunities (opportunity_key, symbol_id, long_dex_id, short_dex_id, long_rate, short_rate, divergence,
                    divergence_1h, estimated_fees, net_profit_percent, annualized_apy, gross_apr, breakeven_hours,
                    hold_hours, fee_type, long_volume_24h, short_volume_24h, min_volume_24h, long_oi_usd,
                    short_oi_usd, min_oi_usd, max_oi_usd, oi_ratio, oi_imbalance, long_spread_bps,
                    short_spread_bps, avg_spread_bps, mark_spread_bps, long_mark_price, short_mark_price,
                    long_interval_hours, short_interval_hours, discovered_at, valid_until, metadata)
FROM STDIN

-- name: log_collection
-- One collection_logs row; success/degraded (data stored) resets the venue's error streak,
-- failed extends it and records the reason. A degraded run's reason is in its error_message.
WITH ins AS (
    INSERT INTO collection_logs (dex_id, started_at, completed_at, status, symbols_fetched, symbols_failed,
                                 markets, rejected, latency_ms, error_message, markets_unfetched, baseline_markets)
    VALUES (%(dex_id)s, %(started_at)s, %(completed_at)s, %(status)s, %(markets)s, %(rejected)s,
            %(markets)s, %(rejected)s, %(latency_ms)s, %(error)s, %(unfetched)s, %(baseline_markets)s)
)
UPDATE dexes SET
    last_successful_fetch = CASE WHEN %(ok)s THEN %(completed_at)s ELSE last_successful_fetch END,
    consecutive_errors    = CASE WHEN %(ok)s THEN 0 ELSE consecutive_errors + 1 END,
    last_error            = CASE WHEN %(ok)s THEN last_error ELSE %(completed_at)s END,
    last_error_message    = CASE WHEN %(ok)s THEN last_error_message ELSE %(error)s END
WHERE id = %(dex_id)s

-- name: insert_dex_symbol
-- A market known from history only: list it without touching live market context.
INSERT INTO dex_symbols (dex_id, symbol_id, dex_symbol_format, is_active, last_updated)
VALUES (%(dex_id)s, %(symbol_id)s, %(dex_symbol)s, TRUE, now())
ON CONFLICT (dex_id, symbol_id) DO NOTHING

-- name: insert_history
-- Backfilled settlements: time = venue_time = the settlement time; never overwrites collected rows.
INSERT INTO funding_rates (time, dex_id, symbol_id, funding_rate, funding_interval_hours, mark_price,
                           venue_time, fetched_at)
SELECT TIMESTAMPTZ 'epoch' + p.t * INTERVAL '1 millisecond', %(dex_id)s, %(symbol_id)s, p.rate, p.hours, p.mark,
       TIMESTAMPTZ 'epoch' + p.t * INTERVAL '1 millisecond', now()
FROM unnest(%(times)s::bigint[], %(rates)s::numeric[], %(hours)s::numeric[], %(marks)s::numeric[])
     AS p (t, rate, hours, mark)
ON CONFLICT (time, dex_id, symbol_id) DO NOTHING

-- name: copy_opportunity_events
-- Lifecycle events (sql/0010): the opportunity's values at the event, with the event and its spell's start.
COPY opportunities (opportunity_key, symbol_id, long_dex_id, short_dex_id, long_rate, short_rate, divergence,
                    divergence_1h, estimated_fees, net_profit_percent, annualized_apy, gross_apr, breakeven_hours,
                    hold_hours, fee_type, long_volume_24h, short_volume_24h, min_volume_24h, long_oi_usd,
                    short_oi_usd, min_oi_usd, max_oi_usd, oi_ratio, oi_imbalance, long_spread_bps,
                    short_spread_bps, avg_spread_bps, mark_spread_bps, long_mark_price, short_mark_price,
                    long_interval_hours, short_interval_hours, discovered_at, valid_until, metadata, event, opened_at)
FROM STDIN

-- name: close_opportunities
-- A `closed` event per key: the values of the key's last recorded row, stamped at %(at)s.
INSERT INTO opportunities (opportunity_key, symbol_id, long_dex_id, short_dex_id, long_rate, short_rate, divergence,
       divergence_1h, estimated_fees, net_profit_percent, annualized_apy, gross_apr, breakeven_hours, hold_hours,
       fee_type, long_volume_24h, short_volume_24h, min_volume_24h, long_oi_usd, short_oi_usd, min_oi_usd,
       max_oi_usd, oi_ratio, oi_imbalance, long_spread_bps, short_spread_bps, avg_spread_bps, mark_spread_bps,
       long_mark_price, short_mark_price, long_interval_hours, short_interval_hours, discovered_at, valid_until,
       metadata, event, opened_at)
SELECT l.opportunity_key, l.symbol_id, l.long_dex_id, l.short_dex_id, l.long_rate, l.short_rate, l.divergence,
       l.divergence_1h, l.estimated_fees, l.net_profit_percent, l.annualized_apy, l.gross_apr, l.breakeven_hours,
       l.hold_hours, l.fee_type, l.long_volume_24h, l.short_volume_24h, l.min_volume_24h, l.long_oi_usd,
       l.short_oi_usd, l.min_oi_usd, l.max_oi_usd, l.oi_ratio, l.oi_imbalance, l.long_spread_bps,
       l.short_spread_bps, l.avg_spread_bps, l.mark_spread_bps, l.long_mark_price, l.short_mark_price,
       l.long_interval_hours, l.short_interval_hours, %(at)s, %(at)s, l.metadata, 'closed', o.opened_at
FROM opportunity_open o
CROSS JOIN LATERAL (
    SELECT * FROM opportunities x WHERE x.opportunity_key = o.opportunity_key AND x.event IS NOT NULL
    ORDER BY x.discovered_at DESC LIMIT 1) l
WHERE o.opportunity_key = ANY(%(keys)s)

-- name: delete_open
DELETE FROM opportunity_open WHERE opportunity_key = ANY(%(keys)s)

-- name: upsert_open
INSERT INTO opportunity_open (opportunity_key, opened_at, divergence, long_interval_hours, short_interval_hours,
                              updated_at)
SELECT k, TIMESTAMPTZ 'epoch' + t * INTERVAL '1 millisecond', d, li, si, now()
FROM unnest(%(keys)s::text[], %(opened)s::bigint[], %(divergences)s::numeric[], %(long_hours)s::numeric[],
            %(short_hours)s::numeric[]) AS u (k, t, d, li, si)
ON CONFLICT (opportunity_key) DO UPDATE SET opened_at = EXCLUDED.opened_at, divergence = EXCLUDED.divergence,
    long_interval_hours = EXCLUDED.long_interval_hours, short_interval_hours = EXCLUDED.short_interval_hours,
    updated_at = EXCLUDED.updated_at
