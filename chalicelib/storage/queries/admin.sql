-- Maintenance and the circuit-breaker fallback store.

-- name: maintain_partitions
-- Plain PostgreSQL: day partitions ahead / expired ones dropped; TimescaleDB: drop_chunks.
SELECT action, partition_name FROM frs_maintain_partitions(%(ahead_days)s::int, %(retention_days)s::int)

-- name: purge_collection_logs
DELETE FROM collection_logs WHERE started_at < now() - make_interval(days => %(retention_days)s::int)

-- name: storage_backend
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'funding_rates'::regclass)
            THEN 'partitions' ELSE 'timescaledb' END

-- name: ensure_partition
-- The day partition of a partitioned table (created when missing, moving rows out of DEFAULT).
SELECT frs_ensure_partition(%(parent)s::text, %(day)s::date)

-- name: breaker_get
SELECT state, failures, opened_at, updated_at FROM circuit_breakers WHERE dex = %(dex)s

-- name: breaker_set
INSERT INTO circuit_breakers (dex, state, failures, opened_at, updated_at)
VALUES (%(dex)s, %(state)s, %(failures)s, %(opened_at)s, now())
ON CONFLICT (dex) DO UPDATE SET
    state = EXCLUDED.state, failures = EXCLUDED.failures, opened_at = EXCLUDED.opened_at, updated_at = now()
