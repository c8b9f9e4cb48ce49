-- name: backfill_done_days
-- UTC days already backfilled for a venue, per market: (dex_symbol, day).
SELECT dex_symbol, day FROM backfill_days WHERE dex = %(dex)s AND kind = %(kind)s AND day >= %(since)s

-- name: backfill_mark_days
-- Record fully covered UTC days of one market (after their rows are committed). Idempotent.
INSERT INTO backfill_days (dex, kind, dex_symbol, day, rows_stored)
SELECT %(dex)s, %(kind)s, %(dex_symbol)s, d, %(rows)s FROM unnest(%(days)s::date[]) AS t(d)
ON CONFLICT (dex, kind, dex_symbol, day) DO NOTHING
