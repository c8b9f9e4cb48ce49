-- Named queries of chalicelib/webhooks/store.py (format of chalicelib/storage/queries.py).

-- name: key_by_key_id
-- The API key row for the public part of a presented key (the secret is compared in Python).
SELECT id, secret_sha256, owner, revoked_at FROM webhook_api_keys WHERE key_id = %(key_id)s

-- name: insert_key
INSERT INTO webhook_api_keys (key_id, secret_sha256, owner) VALUES (%(key_id)s, %(secret_sha256)s, %(owner)s)
RETURNING id

-- name: insert_webhook
INSERT INTO webhooks (id, owner_key_id, url, format, event_types, filters, description, secret,
                      telegram_chat_id, telegram_bot_token, created_at)
VALUES (%(id)s, %(owner_key_id)s, %(url)s, %(format)s, %(event_types)s, %(filters)s, %(description)s,
        %(secret)s, %(telegram_chat_id)s, %(telegram_bot_token)s, %(now)s)

-- name: webhooks_of_owner
-- An owner's webhooks with delivery counts by status (newest first); %(id)s NULL = all of them.
SELECT w.*,
       count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.status IN ('pending', 'delivering')) AS pending,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.status = 'cancelled') AS cancelled
FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
WHERE w.owner_key_id = %(owner)s AND (%(id)s::text IS NULL OR w.id = %(id)s)
GROUP BY w.id
ORDER BY w.created_at DESC, w.id

-- name: delete_webhook
DELETE FROM webhooks WHERE id = %(id)s AND owner_key_id = %(owner)s RETURNING id

-- name: active_webhooks
SELECT id, event_types, filters FROM webhooks WHERE status = 'active' ORDER BY id

-- name: notified_get
SELECT webhook_id, opportunity_id, annualized_apy, divergence FROM webhook_notified
WHERE webhook_id = ANY(%(webhooks)s) AND opportunity_id = ANY(%(opportunities)s)

-- name: notified_upsert
INSERT INTO webhook_notified (webhook_id, opportunity_id, annualized_apy, divergence)
SELECT * FROM unnest(%(webhooks)s::text[], %(opportunities)s::text[], %(apys)s::numeric[], %(divs)s::numeric[])
ON CONFLICT (webhook_id, opportunity_id)
DO UPDATE SET annualized_apy = EXCLUDED.annualized_apy, divergence = EXCLUDED.divergence

-- name: notified_delete
DELETE FROM webhook_notified w
USING unnest(%(webhooks)s::text[], %(opportunities)s::text[]) AS gone (webhook_id, opportunity_id)
WHERE w.webhook_id = gone.webhook_id AND w.opportunity_id = gone.opportunity_id

-- name: insert_events
INSERT INTO webhook_events (id, type, occurred_at, data)
SELECT * FROM unnest(%(ids)s::text[], %(types)s::text[], %(times)s::timestamptz[], %(datas)s::jsonb[])
ON CONFLICT (id) DO NOTHING

-- name: insert_deliveries
-- An event reaches a webhook once: a second emit of the same event id adds nothing. Ids follow the
-- plan's order (deliveries go out in id order per webhook).
INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt_at, created_at)
SELECT webhook_id, event_id, %(now)s, %(now)s
FROM unnest(%(webhooks)s::text[], %(events)s::text[]) WITH ORDINALITY AS t (webhook_id, event_id, n)
ORDER BY n
ON CONFLICT (webhook_id, event_id) DO NOTHING
RETURNING webhook_id

-- name: request_wake
-- Ask for a queue message at %(at)s unless one is already due no later (a stale one is replaced).
UPDATE webhooks SET wake_at = %(at)s
WHERE id = %(id)s AND status = 'active'
  AND (wake_at IS NULL OR wake_at > %(at)s OR wake_at < %(stale_before)s)
RETURNING id

-- name: clear_wake
UPDATE webhooks SET wake_at = NULL WHERE id = %(id)s AND wake_at = %(at)s

-- name: webhook_for_delivery
SELECT * FROM webhooks WHERE id = %(id)s FOR UPDATE

-- name: head_delivery
-- The oldest unfinished delivery of a webhook: deliveries go out in order, one at a time.
SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.lease_until, d.created_at,
       e.id AS event_id, e.type, e.occurred_at, e.data
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.webhook_id = %(id)s AND d.status IN ('pending', 'delivering')
ORDER BY d.id
LIMIT 1
FOR UPDATE OF d

-- name: lease_delivery
UPDATE webhook_deliveries SET status = 'delivering', lease_until = %(until)s WHERE id = %(id)s

-- name: take_tokens
UPDATE webhooks SET rate_tokens = %(tokens)s, rate_updated_at = %(now)s WHERE id = %(id)s

-- name: insert_attempt
INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error, response_excerpt)
VALUES (%(delivery_id)s, %(at)s, %(duration_ms)s, %(status_code)s, %(error)s, %(excerpt)s)

-- name: delivery_done
UPDATE webhook_deliveries
SET status = %(status)s, attempts = attempts + %(counted)s, finished_at = %(now)s, lease_until = NULL,
    last_status_code = %(status_code)s, last_error = %(error)s
WHERE id = %(id)s

-- name: delivery_retry
UPDATE webhook_deliveries
SET status = 'pending', attempts = attempts + 1, next_attempt_at = %(next_at)s, lease_until = NULL,
    last_status_code = %(status_code)s, last_error = %(error)s
WHERE id = %(id)s

-- name: webhook_success
UPDATE webhooks SET consecutive_failures = 0, last_success_at = %(now)s WHERE id = %(id)s

-- name: webhook_failure
UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_failure_at = %(now)s WHERE id = %(id)s

-- name: disable_webhook
UPDATE webhooks SET status = 'disabled', disabled_reason = %(reason)s, disabled_at = %(now)s, wake_at = NULL
WHERE id = %(id)s

-- name: cancel_open_deliveries
UPDATE webhook_deliveries SET status = 'cancelled', finished_at = %(now)s, lease_until = NULL, last_error = %(reason)s
WHERE webhook_id = %(id)s AND status IN ('pending', 'delivering')

-- name: deliveries_of_webhook
-- The delivery log of one webhook, newest first, each with its attempts.
SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.created_at, d.finished_at,
       d.last_status_code, d.last_error,
       coalesce((SELECT json_agg(json_build_object(
                   'attempted_at', a.attempted_at, 'duration_ms', a.duration_ms, 'status_code', a.status_code,
                   'error', a.error, 'response_excerpt', a.response_excerpt) ORDER BY a.id)
                 FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS attempt_log
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.webhook_id = %(id)s AND (%(status)s::text IS NULL OR d.status = %(status)s)
ORDER BY d.id DESC
LIMIT %(limit)s

-- name: due_webhooks
-- Webhooks with a delivery due and no live queue message (a lost message, a failed send): the sweep.
SELECT DISTINCT d.webhook_id
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE w.status = 'active' AND d.status IN ('pending', 'delivering') AND d.next_attempt_at <= %(now)s
  AND (d.lease_until IS NULL OR d.lease_until < %(now)s)
  AND (w.wake_at IS NULL OR w.wake_at < %(stale_before)s)

-- name: prune_deliveries
-- Retention: finished deliveries (and, by cascade, their attempts) older than the cut-off.
DELETE FROM webhook_deliveries
WHERE status IN ('delivered', 'failed', 'cancelled') AND finished_at < %(before)s

-- name: prune_events
DELETE FROM webhook_events e
WHERE e.occurred_at < %(before)s AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
