"""Webhook storage on PostgreSQL (sql/0007_webhooks.sql); SQL in chalicelib/webhooks/queries.sql.

Shares the container's one connection (chalicelib.storage.db.Database): every method is one
transaction through `Database.run`. Times come from the caller's clock (epoch ms), never now().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, LiteralString, cast

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chalicelib.core.serialize import dumps
from chalicelib.storage.queries import parse
from chalicelib.webhooks.events import Event, Plan, take_token

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _queries() -> dict[str, str]:
    path = Path(__file__).with_name("queries.sql")
    return parse(path.read_text(encoding="utf-8"), path.name)


def q(name: str) -> LiteralString:
    return cast(LiteralString, _queries()[name])


def ts(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def ms(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // timedelta(milliseconds=1)


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)


class WebhookStore:
    def __init__(self, db: Any) -> None:
        self.db = db

    def _all(self, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        def fn(conn: Any) -> list[dict[str, Any]]:
            with conn.cursor(row_factory=dict_row) as cur:
                return list(cur.execute(q(name), params).fetchall())
        return cast(list[dict[str, Any]], self.db.run(fn))

    # ---- API keys ---------------------------------------------------------------------------
    def key_row(self, key_id: str) -> dict[str, Any] | None:
        rows = self._all("key_by_key_id", {"key_id": key_id})
        return rows[0] if rows else None

    def insert_key(self, key_id: str, secret_sha256: bytes, owner: str) -> int:
        return int(self._all("insert_key", {"key_id": key_id, "secret_sha256": secret_sha256, "owner": owner})[0]["id"])

    # ---- subscriptions ----------------------------------------------------------------------
    def create_webhook(self, row: Mapping[str, Any], now_ms: int) -> None:
        params = {**row, "filters": _json(row["filters"]), "now": ts(now_ms)}
        self.db.run(lambda conn: conn.execute(q("insert_webhook"), params))

    def webhooks(self, owner: int, webhook_id: str | None = None) -> list[dict[str, Any]]:
        return self._all("webhooks_of_owner", {"owner": owner, "id": webhook_id})

    def delete_webhook(self, owner: int, webhook_id: str) -> bool:
        return bool(self._all("delete_webhook", {"owner": owner, "id": webhook_id}))

    def deliveries(self, webhook_id: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._all("deliveries_of_webhook", {"id": webhook_id, "status": status, "limit": limit})

    def active_webhooks(self) -> list[dict[str, Any]]:
        return self._all("active_webhooks", {})

    def notified(self, webhook_ids: Sequence[str], opportunity_ids: Sequence[str]
                 ) -> dict[tuple[str, str], tuple[Decimal | None, Decimal | None]]:
        if not webhook_ids or not opportunity_ids:
            return {}
        rows = self._all("notified_get", {"webhooks": list(webhook_ids), "opportunities": list(opportunity_ids)})
        return {(r["webhook_id"], r["opportunity_id"]): (r["annualized_apy"], r["divergence"]) for r in rows}

    def record(self, plan: Plan, now_ms: int) -> dict[str, int]:
        """Events, deliveries and 'last told' values of one emit, in one transaction: {webhook: new deliveries}."""
        def fn(conn: Any) -> dict[str, int]:
            created: dict[str, int] = {}
            if plan.deliveries:
                unique = list({ev.id: ev for _, ev in plan.deliveries}.values())
                conn.execute(q("insert_events"), {"ids": [e.id for e in unique], "types": [e.type for e in unique],
                                                  "times": [ts(e.occurred_at_ms) for e in unique],
                                                  "datas": [_json(dict(e.data)) for e in unique]})
                rows = conn.execute(q("insert_deliveries"), {"webhooks": [w for w, _ in plan.deliveries],
                                                             "events": [e.id for _, e in plan.deliveries],
                                                             "now": ts(now_ms)}).fetchall()
                for (webhook_id,) in rows:
                    created[webhook_id] = created.get(webhook_id, 0) + 1
            keep = [(k, v) for k, v in plan.notified.items() if v is not None]
            gone = [k for k, v in plan.notified.items() if v is None]
            if keep:
                conn.execute(q("notified_upsert"), {"webhooks": [k[0] for k, _ in keep],
                                                    "opportunities": [k[1] for k, _ in keep],
                                                    "apys": [v[0] for _, v in keep], "divs": [v[1] for _, v in keep]})
            if gone:
                conn.execute(q("notified_delete"), {"webhooks": [k[0] for k in gone],
                                                    "opportunities": [k[1] for k in gone]})
            return created
        return cast(dict[str, int], self.db.run(fn))

    # ---- queue bookkeeping ------------------------------------------------------------------
    def request_wake(self, webhook_id: str, at_ms: int, stale_before_ms: int) -> bool:
        return bool(self._all("request_wake", {"id": webhook_id, "at": ts(at_ms), "stale_before": ts(stale_before_ms)}))

    def clear_wake(self, webhook_id: str, at_ms: int) -> None:
        self.db.run(lambda conn: conn.execute(q("clear_wake"), {"id": webhook_id, "at": ts(at_ms)}))

    def due_webhooks(self, now_ms: int, stale_before_ms: int) -> list[str]:
        rows = self._all("due_webhooks", {"now": ts(now_ms), "stale_before": ts(stale_before_ms)})
        return [r["webhook_id"] for r in rows]

    def prune(self, before_ms: int) -> tuple[int, int]:
        """(deliveries, events) removed: finished before `before_ms`, events no delivery refers to."""
        def fn(conn: Any) -> tuple[int, int]:
            deliveries = conn.execute(q("prune_deliveries"), {"before": ts(before_ms)}).rowcount
            events = conn.execute(q("prune_events"), {"before": ts(before_ms)}).rowcount
            return int(deliveries), int(events)
        return cast(tuple[int, int], self.db.run(fn))

    # ---- delivery ---------------------------------------------------------------------------
    def claim(self, webhook_id: str, now_ms: int, lease_ms: int, per_minute: int, burst: int
              ) -> tuple[str, Any, Any]:
        """("none"|"busy"|"later"|"go", webhook row or due time, head delivery) in one transaction.

        "go" leases the oldest unfinished delivery; "later" carries the epoch ms it becomes due
        (its retry time, or the next rate-limit token)."""
        def fn(conn: Any) -> tuple[str, Any, Any]:
            with conn.cursor(row_factory=dict_row) as cur:
                hook = cur.execute(q("webhook_for_delivery"), {"id": webhook_id}).fetchone()
                if hook is None or hook["status"] != "active":
                    return "none", None, None
                head = cur.execute(q("head_delivery"), {"id": webhook_id}).fetchone()
                if head is None:
                    return "none", None, None
                lease = ms(head["lease_until"])
                if head["status"] == "delivering" and lease is not None and lease > now_ms:
                    return "busy", lease, head
                due = ms(head["next_attempt_at"]) or 0
                if due > now_ms:
                    return "later", due, head
                ok, tokens, wait_ms = take_token(hook["rate_tokens"], ms(hook["rate_updated_at"]), now_ms,
                                                 per_minute=per_minute, burst=burst)
                cur.execute(q("take_tokens"), {"id": webhook_id, "tokens": tokens, "now": ts(now_ms)})
                if not ok:
                    return "later", now_ms + wait_ms, head
                cur.execute(q("lease_delivery"), {"id": head["id"], "until": ts(now_ms + lease_ms)})
                return "go", hook, head
        return cast(tuple[str, Any, Any], self.db.run(fn))

    def finish(self, webhook_id: str, delivery_id: int, *, now_ms: int, attempted_at_ms: int, outcome: Any,
               next_at_ms: int | None, disable_reason: str | None) -> None:
        """Log the attempt, then: delivered, or retry at next_at_ms, or failed (+ disable the webhook)."""
        def fn(conn: Any) -> None:
            conn.execute(q("insert_attempt"), {"delivery_id": delivery_id, "at": ts(attempted_at_ms),
                                               "duration_ms": outcome.duration_ms, "status_code": outcome.status_code,
                                               "error": outcome.error, "excerpt": outcome.excerpt})
            base = {"id": delivery_id, "now": ts(now_ms), "status_code": outcome.status_code, "error": outcome.error}
            if outcome.ok:
                conn.execute(q("delivery_done"), {**base, "status": "delivered", "counted": 1})
                conn.execute(q("webhook_success"), {"id": webhook_id, "now": ts(now_ms)})
                return
            conn.execute(q("webhook_failure"), {"id": webhook_id, "now": ts(now_ms)})
            if disable_reason is None and next_at_ms is not None:
                conn.execute(q("delivery_retry"), {**base, "next_at": ts(next_at_ms)})
                return
            conn.execute(q("delivery_done"), {**base, "status": "failed", "counted": 1})
            if disable_reason is not None:
                conn.execute(q("disable_webhook"), {"id": webhook_id, "reason": disable_reason, "now": ts(now_ms)})
                conn.execute(q("cancel_open_deliveries"), {"id": webhook_id, "now": ts(now_ms),
                                                           "reason": f"webhook disabled: {disable_reason}"})
        self.db.run(fn)

    def fail_without_attempt(self, webhook_id: str, delivery_id: int, now_ms: int, error: str) -> None:
        """A delivery that can never be sent (payload over the cap): failed, not retried, webhook kept."""
        self.db.run(lambda conn: conn.execute(q("delivery_done"), {
            "id": delivery_id, "now": ts(now_ms), "status": "failed", "counted": 0, "status_code": None,
            "error": error}))


def event_of(head: Mapping[str, Any]) -> Event:
    return Event(head["event_id"], head["type"], ms(head["occurred_at"]) or 0, head["data"])
