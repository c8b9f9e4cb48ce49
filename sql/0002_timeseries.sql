-- 0002_timeseries: funding_rates and opportunities, on TimescaleDB when the server offers it,
-- else on plain PostgreSQL 15 declarative RANGE partitioning (RDS/Aurora have no TimescaleDB).
--
-- Plain-PostgreSQL layout (DESIGN.md §5):
--   * one partition per UTC day: <table>_pYYYYMMDD covering [day 00:00Z, next day 00:00Z);
--   * one DEFAULT partition <table>_default, so an insert outside every day partition never fails
--     (backfills of old history, a clock far ahead). frs_ensure_partition() moves such rows out of
--     the default partition when it later creates the day they belong to;
--   * frs_maintain_partitions(ahead_days, retention_days) — run daily by the maintenance schedule
--     and `frs maintain` — creates yesterday..today+ahead_days and drops day partitions (and default
--     rows) wholly older than now() - retention_days. This migration runs it once (7 days ahead).
-- TimescaleDB layout: hypertables with 1-day chunks, retention policy (90 days) and compression
-- after 7 days; frs_maintain_partitions() then only calls drop_chunks(). Exercised in CI on PGlite
-- (PostgreSQL 17 + TimescaleDB 2.23 in WASM): tests/integration/test_timescaledb.py.
--
-- funding_rates.time is the snapshot's fetch time (UTC); funding_rate is the rate for ONE funding
-- interval of that market (fraction), rate_1h / rate_8h are derived and stored (DESIGN.md §3).
-- The primary key is on (dex_id, symbol_id, time): the same key as "(time, dex_id, symbol_id)",
-- ordered so the index also serves per-market history scans; ON CONFLICT (time, dex_id, symbol_id)
-- infers it (and serves cross-venue reads via dex_id = ANY(...)). No foreign keys on funding_rates: ids come from dexes/symbols lookups in the same
-- ingest transaction, and per-row RI checks would halve COPY ingest throughput.

-- The day partition of `parent` for `day` (UTC); returns its name when created, NULL when it existed.
CREATE OR REPLACE FUNCTION frs_ensure_partition(parent text, day date) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    part     text := format('%s_p%s', parent, to_char(day, 'YYYYMMDD'));
    dflt     text := parent || '_default';
    lo       timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi       timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    keycol   text;
    cols     text;
    has_rows boolean := false;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    SELECT a.attname INTO keycol
      FROM pg_partitioned_table pt
      JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = to_regclass(parent);
    IF keycol IS NULL THEN
        RAISE EXCEPTION 'frs_ensure_partition: % is not a range-partitioned table', parent;
    END IF;
    IF to_regclass(dflt) IS NOT NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)', dflt, keycol, lo, keycol, hi)
           INTO has_rows;
    END IF;
    IF NOT has_rows THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, lo, hi);
        RETURN part;
    END IF;
    -- Rows of this day sit in the DEFAULT partition: CREATE ... PARTITION OF would fail on them, so
    -- park them in a temp table, create the partition, and route them back through the parent.
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute
     WHERE attrelid = to_regclass(parent) AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
    EXECUTE format('CREATE TEMP TABLE frs_moved (LIKE %I) ON COMMIT DROP', parent);
    EXECUTE format('WITH d AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING %s) '
                   'INSERT INTO frs_moved (%s) SELECT %s FROM d', dflt, keycol, lo, keycol, hi, cols, cols, cols);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, lo, hi);
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM frs_moved', parent, cols, cols);
    DROP TABLE frs_moved;
    RETURN part;
END
$fn$;

-- Create partitions from yesterday to today + ahead_days; drop those wholly older than
-- now() - retention_days (NULL: drop nothing). One row per action taken.
CREATE OR REPLACE FUNCTION frs_maintain_partitions(ahead_days int, retention_days int)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $fn$
DECLARE
    parent  text;
    today   date := (now() AT TIME ZONE 'UTC')::date;
    cutoff  timestamptz;
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
    cutoff := now() - make_interval(days => coalesce(retention_days, 0));
    FOREACH parent IN ARRAY ARRAY['funding_rates', 'opportunities'] LOOP
        keycol := CASE parent WHEN 'funding_rates' THEN 'time' ELSE 'discovered_at' END;
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
DECLARE
    -- TimescaleDB when the extension exists (an administrator may have created it) or can be created
    -- here. Not read: shared_preload_libraries, which only superusers / pg_read_all_settings may
    -- examine (a plain migrator role failed on it). CREATE EXTENSION fails when the library is not
    -- preloaded or the role may not create it; that failure is caught and native partitions are used.
    use_timescale boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
    partition_clause text;
BEGIN
    IF NOT use_timescale AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION timescaledb;
            use_timescale := true;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '0002: TimescaleDB is installed but CREATE EXTENSION failed (%); using native partitions',
                SQLERRM;
        END;
    END IF;
    partition_clause := CASE WHEN use_timescale THEN '' ELSE ' PARTITION BY RANGE (%s)' END;

    EXECUTE $ddl$
    CREATE TABLE funding_rates (
        time                    TIMESTAMPTZ NOT NULL,   -- fetch time of the snapshot (UTC)
        dex_id                  INTEGER NOT NULL,
        symbol_id               INTEGER NOT NULL,
        funding_rate            NUMERIC NOT NULL,       -- fraction per funding interval
        funding_interval_hours  NUMERIC NOT NULL,
        rate_1h                 NUMERIC GENERATED ALWAYS AS (funding_rate / funding_interval_hours) STORED,
        rate_8h                 NUMERIC GENERATED ALWAYS AS (funding_rate * 8 / funding_interval_hours) STORED,
        next_funding_time       TIMESTAMPTZ,
        predicted_rate          NUMERIC,
        index_price             NUMERIC,
        mark_price              NUMERIC,
        open_interest_usd       NUMERIC,
        volume_24h              NUMERIC,
        best_bid                NUMERIC,
        best_ask                NUMERIC,
        venue_time              TIMESTAMPTZ,
        fetched_at              TIMESTAMPTZ,
        collection_latency_ms   INTEGER,
        PRIMARY KEY (dex_id, symbol_id, time)
    )$ddl$ || format(partition_clause, 'time');

    EXECUTE $ddl$
    CREATE TABLE opportunities (
        id                    BIGSERIAL,
        opportunity_key       TEXT NOT NULL,            -- stable "SYMBOL:long_dex:short_dex"
        symbol_id             INTEGER NOT NULL REFERENCES symbols (id),
        long_dex_id           INTEGER NOT NULL REFERENCES dexes (id),
        short_dex_id          INTEGER NOT NULL REFERENCES dexes (id),
        long_rate             NUMERIC NOT NULL,         -- rate_8h of the long venue
        short_rate            NUMERIC NOT NULL,
        divergence            NUMERIC NOT NULL,         -- short_rate - long_rate, per 8 h
        divergence_1h         NUMERIC,
        estimated_fees        NUMERIC NOT NULL,
        net_profit_percent    NUMERIC NOT NULL,         -- fraction (SPEC naming)
        annualized_apy        NUMERIC,                  -- percent
        gross_apr             NUMERIC,                  -- percent
        breakeven_hours       NUMERIC,
        hold_hours            NUMERIC,
        fee_type              VARCHAR(8),
        long_volume_24h       NUMERIC,
        short_volume_24h      NUMERIC,
        min_volume_24h        NUMERIC,
        long_oi_usd           NUMERIC,
        short_oi_usd          NUMERIC,
        min_oi_usd            NUMERIC,
        max_oi_usd            NUMERIC,
        oi_ratio              NUMERIC,
        oi_imbalance          VARCHAR(16),
        long_spread_bps       NUMERIC,
        short_spread_bps      NUMERIC,
        avg_spread_bps        NUMERIC,
        mark_spread_bps       NUMERIC,
        long_mark_price       NUMERIC,
        short_mark_price      NUMERIC,
        long_interval_hours   NUMERIC,
        short_interval_hours  NUMERIC,
        discovered_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
        valid_until           TIMESTAMPTZ,
        metadata              JSONB,
        PRIMARY KEY (id, discovered_at)
    )$ddl$ || format(partition_clause, 'discovered_at');
END
$do$;

-- No second index on funding_rates: per-market history uses the primary key, and cross-venue
-- statistics use it too through `dex_id = ANY(<all venue ids>)` (one index descent per venue).
-- A (symbol_id, time) index would cost ~20 % of ingest throughput for no query that needs it.

CREATE INDEX idx_opportunities_symbol ON opportunities (symbol_id, discovered_at DESC);
CREATE INDEX idx_opportunities_key ON opportunities (opportunity_key, discovered_at DESC);
CREATE INDEX idx_opportunities_profit ON opportunities (net_profit_percent DESC);
CREATE INDEX idx_opportunities_discovered ON opportunities (discovered_at DESC);
CREATE INDEX idx_opportunities_long_dex ON opportunities (long_dex_id);
CREATE INDEX idx_opportunities_short_dex ON opportunities (short_dex_id);
CREATE INDEX idx_opportunities_min_oi ON opportunities (min_oi_usd ASC);
CREATE INDEX idx_opportunities_max_oi ON opportunities (max_oi_usd DESC);
CREATE INDEX idx_opportunities_composite ON opportunities (net_profit_percent DESC, min_oi_usd ASC);

DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- TimescaleDB 2.x API, idempotent flags; run in CI by tests/integration/test_timescaledb.py.
        EXECUTE $ts$SELECT create_hypertable('funding_rates', 'time', chunk_time_interval => INTERVAL '1 day',
                                             if_not_exists => TRUE, migrate_data => TRUE)$ts$;
        EXECUTE $ts$SELECT create_hypertable('opportunities', 'discovered_at', chunk_time_interval => INTERVAL '1 day',
                                             if_not_exists => TRUE, migrate_data => TRUE)$ts$;
        EXECUTE $ts$SELECT add_retention_policy('funding_rates', INTERVAL '90 days', if_not_exists => TRUE)$ts$;
        EXECUTE $ts$SELECT add_retention_policy('opportunities', INTERVAL '90 days', if_not_exists => TRUE)$ts$;
        EXECUTE $ts$ALTER TABLE funding_rates SET (timescaledb.compress,
                                                   timescaledb.compress_segmentby = 'dex_id, symbol_id',
                                                   timescaledb.compress_orderby = 'time DESC')$ts$;
        EXECUTE $ts$SELECT add_compression_policy('funding_rates', INTERVAL '7 days', if_not_exists => TRUE)$ts$;
    ELSE
        CREATE TABLE funding_rates_default PARTITION OF funding_rates DEFAULT;
        CREATE TABLE opportunities_default PARTITION OF opportunities DEFAULT;
        PERFORM frs_maintain_partitions(7, NULL);
    END IF;
END
$do$;
