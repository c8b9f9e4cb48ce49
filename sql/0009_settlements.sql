-- 0009_settlements: what venues actually PAID, apart from what they published (funding_rates),
-- and the calibration verdict that compares the two per venue.
--
-- settlements: one row per market per settlement instant, from the venue's settled-history endpoint
-- (Hyperliquid fundingHistory, Lighter /fundings, Paradex funding_index deltas, GRVT /full/v1/funding,
-- EdgeX getFundingRatePage&filterSettlementFundingRate=true). funding_rate is the fraction that
-- settlement paid for funding_interval_hours hours, normalized exactly as live rates (positive: longs
-- pay). Partitioned like funding_rates (day partitions + DEFAULT on plain PostgreSQL; a hypertable
-- where TimescaleDB is installed). Idempotent writes: ON CONFLICT on the primary key.
DO $do$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    EXECUTE $ddl$
    CREATE TABLE settlements (
        time                    TIMESTAMPTZ NOT NULL,   -- settlement instant as the venue stamps it (UTC)
        dex_id                  INTEGER NOT NULL,
        symbol_id               INTEGER NOT NULL,
        funding_rate            NUMERIC NOT NULL,       -- fraction paid for one interval
        funding_interval_hours  NUMERIC NOT NULL,       -- the interval in force then
        mark_price              NUMERIC,                -- USD per base unit at settlement, where given
        source                  TEXT NOT NULL,          -- endpoint, e.g. 'hyperliquid /info fundingHistory'
        fetched_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (dex_id, symbol_id, time)
    )$ddl$ || CASE WHEN timescale THEN '' ELSE ' PARTITION BY RANGE (time)' END;
    IF timescale THEN
        EXECUTE $ts$SELECT create_hypertable('settlements', 'time', chunk_time_interval => INTERVAL '7 days',
                                             if_not_exists => TRUE)$ts$;
        EXECUTE $ts$SELECT add_retention_policy('settlements', INTERVAL '400 days', if_not_exists => TRUE)$ts$;
    ELSE
        CREATE TABLE settlements_default PARTITION OF settlements DEFAULT;
    END IF;
END
$do$;

-- The latest calibration verdict per venue (written by the settlement run, read by REST/health).
CREATE TABLE IF NOT EXISTS venue_calibration (
    dex             TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('verified', 'unverified', 'unit_mismatch')),
    factor          NUMERIC,                 -- settled / published (median ratio); 1 = units agree
    sign_agreement  NUMERIC,                 -- share of pairs whose signs agree (0..1)
    samples         INTEGER NOT NULL,
    window_hours    INTEGER NOT NULL,
    report          JSONB NOT NULL,          -- the full calibration report (accuracy per window, per market)
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Partition maintenance now also covers settlements (kept 400 days at least: backtests need them).
CREATE OR REPLACE FUNCTION frs_maintain_partitions(ahead_days int, retention_days int)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $fn$
DECLARE
    parent  text;
    today   date := (now() AT TIME ZONE 'UTC')::date;
    cutoff  timestamptz;
    keep    int;
    keycol  text;
    created text;
    rel     record;
    n       bigint;
BEGIN
    IF ahead_days IS NULL OR ahead_days < 0 THEN
        RAISE EXCEPTION 'frs_maintain_partitions: ahead_days must be >= 0, got %', ahead_days;
    END IF;
    IF retention_days IS NOT NULL AND retention_days < 1 THEN
        RAISE EXCEPTION 'frs_maintain_partitions: retention_days must be >= 1, got %', retention_days;
    END IF;
    FOREACH parent IN ARRAY ARRAY['funding_rates', 'opportunities', 'settlements'] LOOP
        keycol := CASE parent WHEN 'opportunities' THEN 'discovered_at' ELSE 'time' END;
        keep := CASE WHEN parent = 'settlements' THEN greatest(coalesce(retention_days, 0), 400) ELSE retention_days END;
        cutoff := now() - make_interval(days => coalesce(keep, 0));
        IF to_regclass(parent) IS NULL THEN
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(parent)) THEN
            -- TimescaleDB hypertable: chunks are created on insert; expire with drop_chunks.
            IF retention_days IS NOT NULL AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
                EXECUTE format('SELECT count(*) FROM drop_chunks(%L, older_than => %L::timestamptz)', parent, cutoff)
                   INTO n;
                action := 'dropped_chunks'; partition_name := format('%s (%s chunks)', parent, n);
                RETURN NEXT;
            END IF;
            CONTINUE;
        END IF;
        FOR i IN -1 .. ahead_days LOOP
            created := frs_ensure_partition(parent, today + i);
            IF created IS NOT NULL THEN
                action := 'created'; partition_name := created;
                RETURN NEXT;
            END IF;
        END LOOP;
        CONTINUE WHEN retention_days IS NULL;
        FOR rel IN
            SELECT c.relname
              FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
             WHERE inh.inhparent = to_regclass(parent) AND c.relname ~ ('^' || parent || '_p[0-9]{8}$')
             ORDER BY c.relname
        LOOP
            IF ((to_date(right(rel.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
                EXECUTE format('DROP TABLE %I', rel.relname);
                action := 'dropped'; partition_name := rel.relname;
                RETURN NEXT;
            END IF;
        END LOOP;
        IF to_regclass(parent || '_default') IS NOT NULL THEN
            EXECUTE format('DELETE FROM %I WHERE %I < %L', parent || '_default', keycol, cutoff);
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n > 0 THEN
                action := 'purged_default'; partition_name := format('%s_default (%s rows)', parent, n);
                RETURN NEXT;
            END IF;
        END IF;
    END LOOP;
END
$fn$;

DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('settlements')) THEN
        PERFORM frs_maintain_partitions(7, NULL);
    END IF;
END
$do$;
