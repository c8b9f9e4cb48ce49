-- Maintenance and the circuit-breaker fallback store.

-- name: maintain_partitions
-- Plain PostgreSQL: day partitions ahead / expired ones dropped; TimescaleDB: drop_chunks.
SELECT action, partition_name FROM frs_maintain_partitions(%(ahead_days)s::int, %(retention_days)s::int)

-- name: purge_collection_logs
DELETE FROM collection_logs WHERE started_at < now() - make_interval(days => %(retention_days)s::int)

-- name: storage_backend
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'funding_rates'::regclass)
            THEN 'partitions' ELSE 'timescaledb' END

-- name: ensure_partitions
-- The day partitions of partitioned tables (created when missing, moving rows out of DEFAULT):
-- every (day, parent) pair in one statement (one round trip however long a backfill is); returns the
-- partitions created, in day then parent order.
SELECT created
FROM unnest(%(days)s::date[]) WITH ORDINALITY AS d (day, i)
CROSS JOIN unnest(%(parents)s::text[]) WITH ORDINALITY AS p (parent, j)
CROSS JOIN LATERAL frs_ensure_partition(p.parent, d.day) AS created
WHERE created IS NOT NULL
ORDER BY d.i, p.j

-- name: breaker_get
SELECT state, failures, opened_at, updated_at FROM circuit_breakers WHERE dex = %(dex)s

-- name: breaker_set
INSERT INTO circuit_breakers (dex, state, failures, opened_at, updated_at)
VALUES (%(dex)s, %(state)s, %(failures)s, %(opened_at)s, now())
ON CONFLICT (dex) DO UPDATE SET
    state = EXCLUDED.state, failures = EXCLUDED.failures, opened_at = EXCLUDED.opened_at, updated_at = now()
