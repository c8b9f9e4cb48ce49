"""Webhook fan-out and delivery: the imperative shell around chalicelib.webhooks.events.

emit(events)        the analysis' port: match events to active webhooks (one SELECT), record the
                    events and deliveries (one transaction), queue one wake-up per webhook. No HTTP
                    here, so a slow receiver never slows the analysis.
handle_message(m)   the queue consumer (SQS Lambda on AWS, frs_local.webhook_queue locally):
                    delivers a webhook's due deliveries oldest first, one at a time (order per
                    webhook); a failure schedules the retry (backoff + jitter, events.retry_delay_s)
                    and queues a wake-up for then; the last failed attempt (or a 410) disables the
                    webhook with the reason and cancels what was still queued for it.
sweep()             re-queues webhooks whose wake-up message was lost (a failed send, a crash).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from chalicelib.webhooks import events as ev
from chalicelib.webhooks import formats, safety, sender, signing
from chalicelib.webhooks.config import WebhookConfig
from chalicelib.webhooks.store import event_of, ms

log = logging.getLogger(__name__)
SQS_MAX_DELAY_S = 900          # SQS DelaySeconds cap: a later wake-up is re-sent when it arrives early
STALE_WAKE_MS = 20 * 60_000    # a wake-up this far overdue is presumed lost (the sweep replaces it)
MAX_PER_MESSAGE = 50           # deliveries per message before handing over to a fresh message
RETENTION_DAYS = 30           # finished deliveries, their attempts and events are kept this long
BUDGET_S = 25.0                # wall time per message: + one attempt (WEBHOOK_TIMEOUT_SECONDS) < the 45 s Lambda timeout


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class Queue(Protocol):
    def send(self, body: Mapping[str, Any], delay_s: int) -> None: ...


class NoQueue:
    """No queue configured (a test client, a script): deliveries wait for the sweep; said once."""

    warned = False

    def send(self, body: Mapping[str, Any], delay_s: int) -> None:
        if not NoQueue.warned:
            log.warning("webhooks: no delivery queue configured (WEBHOOK_QUEUE_URL); deliveries wait for the sweep")
            NoQueue.warned = True


class WebhookService:
    def __init__(self, store: Any, queue: Queue, config: WebhookConfig, *, clock: Clock | None = None,
                 rand: Callable[[], float] = random.random, resolver: safety.Resolver = safety.resolve,
                 post: Callable[..., sender.Outcome] = sender.post) -> None:
        self.store, self.queue, self.config = store, queue, config
        self.clock = clock or SystemClock()
        self.rand, self.resolver, self.post = rand, resolver, post

    # ---- fan-out ------------------------------------------------------------------------------
    def emit(self, raw_events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        now = self.clock.now_ms()
        events = ev.normalize(raw_events, now)
        if not events:
            return {"events": 0, "webhooks": 0, "deliveries": 0}
        subs = []
        for row in self.store.active_webhooks():
            try:
                subs.append(ev.Subscription(row["id"], frozenset(row["event_types"]), ev.parse_filters(row["filters"])))
            except ValueError as exc:   # validated at creation; a later filter change in code must not stop the rest
                log.warning("webhook %s: stored filters no longer parse (%s); skipped", row["id"], exc)
        if not subs:
            return {"events": len(events), "webhooks": 0, "deliveries": 0}
        opp_ids = sorted({str(e.data.get("id")) for e in events if e.type in ev.OPPORTUNITY_TYPES})
        notified = self.store.notified([s.id for s in subs], opp_ids)
        plan = ev.plan(events, subs, notified)
        created = self.store.record(plan, now) if plan.deliveries or plan.notified else {}
        for webhook_id in created:
            self.wake(webhook_id, now)
        return {"events": len(events), "webhooks": len(subs), "deliveries": sum(created.values())}

    def wake(self, webhook_id: str, at_ms: int) -> None:
        """Queue a message for `webhook_id` due at `at_ms`, unless one due no later is queued already."""
        now = self.clock.now_ms()
        if self.store.request_wake(webhook_id, at_ms, now - STALE_WAKE_MS):
            delay = min(SQS_MAX_DELAY_S, max(0, -(-(at_ms - now) // 1000)))
            try:
                self.queue.send({"webhook_id": webhook_id, "wake_at_ms": at_ms}, delay)
            except Exception as exc:   # recorded in PostgreSQL already: the sweep re-queues it
                log.warning("webhooks: queueing %s failed (%s: %s); the sweep will retry", webhook_id,
                            type(exc).__name__, exc)

    def sweep(self) -> dict[str, int]:
        """Re-queue webhooks whose wake-up was lost; drop the delivery log past RETENTION_DAYS."""
        now = self.clock.now_ms()
        due = self.store.due_webhooks(now, now - STALE_WAKE_MS)
        for webhook_id in due:
            self.wake(webhook_id, now)
        deliveries, events = self.store.prune(now - RETENTION_DAYS * 86_400_000)
        return {"requeued": len(due), "pruned_deliveries": deliveries, "pruned_events": events}

    # ---- delivery -----------------------------------------------------------------------------
    def handle_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        webhook_id, at = str(body["webhook_id"]), int(body["wake_at_ms"])
        now = self.clock.now_ms()
        if at > now:   # SQS delays at most 15 min: pass the same wake-up on until it is due
            self.queue.send(dict(body), min(SQS_MAX_DELAY_S, -(-(at - now) // 1000)))
            return {"webhook_id": webhook_id, "early": True}
        self.store.clear_wake(webhook_id, at)
        return self.deliver(webhook_id)

    def deliver(self, webhook_id: str) -> dict[str, Any]:
        summary: dict[str, Any] = {"webhook_id": webhook_id, "delivered": 0, "failed": 0}
        lease_ms = int((self.config.timeout_s + 30) * 1000)
        started = time.monotonic()
        for _ in range(MAX_PER_MESSAGE):
            if time.monotonic() - started > BUDGET_S:
                break
            now = self.clock.now_ms()
            state, hook, head = self.store.claim(webhook_id, now, lease_ms, self.config.rate_per_minute,
                                                 self.config.rate_burst)
            if state == "none":
                return summary
            if state in ("busy", "later"):
                self.wake(webhook_id, int(hook))
                summary["next_at_ms"] = int(hook)
                return summary
            if not self._attempt(webhook_id, hook, head, summary):
                return summary
        self.wake(webhook_id, self.clock.now_ms())   # more to send: continue in a fresh message
        return summary

    def _attempt(self, webhook_id: str, hook: Mapping[str, Any], head: Mapping[str, Any],
                 summary: dict[str, Any]) -> bool:
        """One HTTP attempt of the head delivery; True when the next delivery may go now."""
        event = event_of(head)
        started = self.clock.now_ms()
        try:   # a telegram webhook's url is the Bot API base it was registered with (TELEGRAM_API_URL)
            url, body = formats.render(hook["format"], event, url=hook["url"],
                                       telegram_chat_id=hook["telegram_chat_id"],
                                       telegram_bot_token=hook["telegram_bot_token"])
        except ValueError as exc:
            self.store.fail_without_attempt(webhook_id, head["id"], started, f"not sent: {exc}")
            summary["failed"] += 1
            return True
        headers = signing.headers(hook["secret"], event.id, started // 1000, body)
        outcome = self.post(url, body, headers, timeout_s=self.config.timeout_s,
                            allow_loopback=self.config.allow_loopback, resolver=self.resolver)
        now = self.clock.now_ms()
        attempts = int(head["attempts"]) + 1
        next_at, reason = None, None
        if not outcome.ok:
            summary["failed"] += 1
            if outcome.gone:
                reason = "the receiver answered 410 Gone"
            elif attempts >= ev.MAX_ATTEMPTS:
                span_h = (now - (ms(head["created_at"]) or now)) / 3_600_000
                reason = (f"{attempts} attempts to deliver event {event.id} failed over {span_h:.1f} h; "
                          f"last error: {outcome.error}")
            else:
                next_at = now + int(ev.retry_delay_s(attempts, self.rand()) * 1000)
        else:
            summary["delivered"] += 1
        self.store.finish(webhook_id, head["id"], now_ms=now, attempted_at_ms=started, outcome=outcome,
                          next_at_ms=next_at, disable_reason=reason)
        if reason is not None:
            log.warning("webhook %s disabled: %s", webhook_id, reason)
            summary["disabled"] = reason
            return False
        if next_at is not None:
            self.wake(webhook_id, next_at)
            summary["next_at_ms"] = next_at
            return False
        return True

