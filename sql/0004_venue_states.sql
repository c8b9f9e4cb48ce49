-- 0004_venue_states: collection outcomes become success | degraded | failed, with the count of markets the
-- request budget left unfetched and the baseline the run was compared with (chalicelib/core/venue_state.py).
--
-- `partial` meant "data stored, something missing"; under the new verdict that is `degraded` (a handful of
-- rejected records is now `success`, but old rows cannot be re-judged, so every old `partial` maps to the
-- conservative `degraded`). Forward-only: 0001's inline CHECK (auto-named collection_logs_status_check) is
-- replaced, not edited.

UPDATE collection_logs SET status = 'degraded' WHERE status = 'partial';

ALTER TABLE collection_logs DROP CONSTRAINT IF EXISTS collection_logs_status_check;
ALTER TABLE collection_logs ADD CONSTRAINT collection_logs_status_check
    CHECK (status IN ('success', 'degraded', 'failed'));

-- markets the venue listed but this run did not fetch because its request budget ran out (count)
ALTER TABLE collection_logs ADD COLUMN IF NOT EXISTS markets_unfetched INTEGER NOT NULL DEFAULT 0;
-- the usual market count the run was compared with: median `markets` of the venue's recent successful
-- runs (count; NULL = no baseline yet)
ALTER TABLE collection_logs ADD COLUMN IF NOT EXISTS baseline_markets NUMERIC;

-- the baseline read: one venue's runs that stored data, newest first
CREATE INDEX IF NOT EXISTS idx_collection_logs_dex_stored ON collection_logs (dex_id, started_at DESC)
    WHERE status <> 'failed';
