"""Webhooks end to end: real receivers on loopback, real PostgreSQL, the app's own `webhook-deliver` handler.

Deliveries go through frs_local.webhook_queue (the SQS stand-in) into the Lambda handler, on a
test clock: a retry due in 80 s is reached by advancing the clock, never by sleeping. The receivers
are real HTTP servers; the standard one verifies Standard Webhooks signatures and de-duplicates on
webhook-id, as a subscriber should.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.settings import Settings
from chalicelib.storage.db import Database
from chalicelib.webhooks import keys, signing
from chalicelib.webhooks.config import WebhookConfig
from chalicelib.webhooks.service import WebhookService
from chalicelib.webhooks.store import WebhookStore
from frs_local.webhook_queue import LocalQueue

T0_MS = 1_767_225_600_000   # 2026-01-01T00:00:00Z, the test clock's start


class FakeClock:
    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class Receiver:
    """A loopback HTTP receiver. `script` answers request n (0-based): an int status, "hang" (block until
    released or `hang_s`), or ("redirect", url). Past the script it answers `default`."""

    def __init__(self, *, secret: str | None = None, script: list[Any] | None = None, default: Any = 200,
                 hang_s: float = 30.0, clock: FakeClock | None = None) -> None:
        self.secret, self.script, self.default, self.hang_s, self.clock = secret, list(script or []), default, hang_s, clock
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[str] = []        # event ids processed (first sight of a webhook-id with a good signature)
        self.duplicates: list[str] = []
        self.bad_signatures = 0
        self.in_flight = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.on_request(self.path, dict(self.headers), body)
                if isinstance(status, tuple):
                    self.send_response(302)
                    self.send_header("Location", status[1])
                else:
                    self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def on_request(self, path: str, headers: dict[str, str], body: bytes) -> Any:
        with self.lock:
            n = len(self.requests)
            self.requests.append({"path": path, "headers": headers, "body": json.loads(body)})
            action = self.script[n] if n < len(self.script) else self.default
            if self.secret is not None:
                now_s = (self.clock.now_ms() if self.clock else int(time.time() * 1000)) // 1000
                if not signing.verify(self.secret, headers, body, now_s=now_s):
                    self.bad_signatures += 1
                    return 400
                if action == "hang" or action == 200:     # processed (a failing answer processed nothing)
                    msg_id = headers["webhook-id"]
                    (self.duplicates if msg_id in self.accepted else self.accepted).append(msg_id)
        if action == "hang":
            self.in_flight.set()
            self.release.wait(self.hang_s)
            return 200
        return action

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Harness:
    """The service on real PostgreSQL, the app's webhook-deliver handler behind the local queue, a test clock."""

    def __init__(self, db_url: str, *, allow_loopback: bool = True, timeout_s: float = 2.0, burst: int = 20) -> None:
        self.clock = FakeClock()
        self.db = Database(db_url)
        self.queue = LocalQueue(app.handler_map["webhook-deliver"], self.clock)
        config = WebhookConfig(allow_loopback=allow_loopback, timeout_s=timeout_s, rate_burst=burst)
        self.service = WebhookService(WebhookStore(self.db), self.queue, config, clock=self.clock, rand=lambda: 0.5)
        wiring.override(settings=Settings.from_env({"DATABASE_URL": db_url}), webhooks=self.service)
        self.key, key_id, digest = keys.new_key()
        self.owner = self.service.store.insert_key(key_id, digest, "tests")
        self.client = Client(app)

    def call(self, method: str, path: str, body: Any = None, key: str | None = "own") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["X-API-Key"] = self.key if key == "own" else key
        raw = json.dumps(body) if body is not None else None
        r = self.client.http.request(method, path, headers=headers, body=raw)
        return r.status_code, json.loads(r.body) if r.body else None

    def register(self, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
        status, body = self.call("POST", "/api/v1/webhooks", {"url": url, "events": events, **extra})
        assert status == 201, body
        return body

    def drain(self) -> int:
        return self.queue.drain()

    def advance(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return self.drain()

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        status, body = self.call("GET", f"/api/v1/webhooks/{webhook_id}/deliveries")
        assert status == 200, body
        return list(reversed(body["deliveries"]))    # oldest first


@pytest.fixture
def harness(db_url: str) -> Iterator[Harness]:
    h = Harness(db_url)
    yield h
    wiring.reset()
    h.db.close()


def opened(oid: str, *, symbol: str = "BTC", apy: str = "21.9", div: str = "0.0005") -> dict[str, Any]:
    long_dex, short_dex = oid.split(":")[1:]
    return {"type": "opportunity.opened", "data": {
        "id": oid, "symbol": symbol, "long_dex": long_dex, "short_dex": short_dex, "divergence": D(div),
        "net_profit_percent": D("0.0002"), "annualized_apy": D(apy), "min_volume_24h": D("2500000")}}


# ---- signatures and de-duplication ------------------------------------------------------------
def test_signed_delivery_verifies_and_a_retried_event_is_recognised_as_a_duplicate(db_url: str) -> None:
    h = Harness(db_url, timeout_s=1.0)
    try:
        with Receiver(script=["hang", 200], hang_s=3.0, clock=h.clock) as rx:
            hook = h.register(rx.url, ["opportunity.opened"])
            rx.secret = hook["secret"]
            assert hook["secret"].startswith("whsec_") and hook["url_check"] == "checked"
            event = opened("BTC:lighter:paradex")
            assert h.service.emit([event])["deliveries"] == 1
            assert h.service.emit([event])["deliveries"] == 0      # the same event again: nothing new to send
            h.drain()              # attempt 1: the receiver takes it, then hangs past the 1 s timeout
            (d,) = h.deliveries(hook["id"])
            assert d["status"] == "pending" and d["attempt_log"][0]["error"] == "timed out after 1 s"
            h.advance(4.999)       # rand 0.5 = no jitter: the retry is due 5 s after the failure
            assert len(rx.requests) == 1
            h.advance(0.001)       # attempt 2, answered 200
            (d,) = h.deliveries(hook["id"])
            assert (d["status"], d["attempts"]) == ("delivered", 2)
            # both requests carried the same webhook-id and valid signatures; the receiver processed it once
            assert rx.bad_signatures == 0 and len(rx.requests) == 2
            assert rx.accepted == [d["event_id"]] and rx.duplicates == [d["event_id"]]
            first = rx.requests[0]["headers"]
            assert first["webhook-id"] == d["event_id"] and first["webhook-signature"].startswith("v1,")
            assert rx.bodies()[0] == {"id": d["event_id"], "type": "opportunity.opened",
                                      "timestamp": "2026-01-01T00:00:00Z",
                                      "data": json.loads(json.dumps(event["data"], default=float))}
    finally:
        wiring.reset()
        h.db.close()


# ---- fails N times, then recovers: once, after retries, in order ------------------------------
def test_failing_receiver_gets_each_event_once_after_backoff_and_in_order(harness: Harness) -> None:
    h = harness
    with Receiver(script=[500, 503, 500], clock=h.clock) as rx:
        hook = h.register(rx.url, ["opportunity.opened"])
        rx.secret = hook["secret"]
        h.service.emit([opened("BTC:lighter:paradex"), opened("ETH:grvt:edgex", symbol="ETH"),
                        opened("SOL:hyperliquid:lighter", symbol="SOL")])
        h.drain()
        # head-of-line: only the first event was tried; the next two wait behind it
        assert [b["data"]["id"] for b in rx.bodies()] == ["BTC:lighter:paradex"]
        # rand = 0.5 -> no jitter: waits 5 s, 20 s, 80 s after failures 1, 2, 3 (5 x 4^(n-1))
        for wait_s, expected_requests in ((5, 2), (20, 3)):
            assert h.advance(wait_s - 0.001) == 0 and len(rx.requests) == expected_requests - 1   # not yet due
            h.advance(0.001)
            assert len(rx.requests) == expected_requests
        h.advance(79.999)
        assert len(rx.requests) == 3
        h.advance(0.001)   # attempt 4 succeeds, then the two waiting events go out at once
        assert [b["data"]["id"] for b in rx.bodies()] == ["BTC:lighter:paradex"] * 4 + [
            "ETH:grvt:edgex", "SOL:hyperliquid:lighter"]
        assert [r["headers"]["webhook-id"] for r in rx.requests[:4]] == [rx.accepted[0]] * 4
        assert len(rx.accepted) == 3 and rx.duplicates == []     # each event delivered (accepted) once
        log = h.deliveries(hook["id"])
        assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 4), ("delivered", 1), ("delivered", 1)]
        assert [a["status_code"] for a in log[0]["attempt_log"]] == [500, 503, 500, 200]
        status, one = h.call("GET", f"/api/v1/webhooks/{hook['id']}")
        assert status == 200 and one["delivery_stats"]["delivered"] == 3 and one["delivery_stats"]["consecutive_failures"] == 0
        assert "secret" not in one


# ---- always fails: disabled, and the owner sees why ---------------------------------------------
def test_always_failing_receiver_is_disabled_after_about_a_day_with_the_reason(harness: Harness) -> None:
    h = harness
    with Receiver(default=500, clock=h.clock) as rx:
        hook = h.register(rx.url, ["opportunity.opened", "opportunity.closed"])
        h.service.emit([opened("BTC:lighter:paradex"), opened("ETH:grvt:edgex", symbol="ETH")])
        h.drain()
        # nominal waits 5, 20, 80, 320, 1280, 5120, 20480, 36000, 36000 s = 99 305 s = 27.6 h
        for wait_s in (5, 20, 80, 320, 1280, 5120, 20480, 36000, 36000):
            h.advance(wait_s)
        assert len(rx.requests) == 10
        status, one = h.call("GET", f"/api/v1/webhooks/{hook['id']}")
        assert status == 200 and one["status"] == "disabled"
        assert one["disabled_reason"].startswith("10 attempts to deliver event evt_")
        assert one["disabled_reason"].endswith("failed over 27.6 h; last error: HTTP 500")
        stats = one["delivery_stats"]
        assert (stats["delivered"], stats["pending"], stats["failed"], stats["cancelled"]) == (0, 0, 1, 1)
        assert stats["consecutive_failures"] == 10 and stats["last_success_at"] is None
        log = h.deliveries(hook["id"])
        assert [d["status"] for d in log] == ["failed", "cancelled"]
        assert log[1]["last_error"].startswith("webhook disabled: 10 attempts")
        # nothing more goes out, and the owner cannot queue a test to a disabled webhook
        h.service.emit([opened("SOL:hyperliquid:lighter", symbol="SOL")])
        h.advance(3600)
        assert len(rx.requests) == 10
        status, body = h.call("POST", f"/api/v1/webhooks/{hook['id']}/test")
        assert status == 409 and body["error"] == "webhook_disabled"


# ---- filters ------------------------------------------------------------------------------------
def test_only_matching_events_are_delivered(harness: Harness) -> None:
    h = harness
    with Receiver(clock=h.clock) as btc_rx, Receiver(clock=h.clock) as venue_rx:
        h.register(btc_rx.url, ["opportunity.opened", "opportunity.updated"],
                   filters={"symbol": "btc", "min_apy_change": 5, "exclude_dexes": ["grvt"]})
        h.register(venue_rx.url, ["venue.degraded"], filters={"include_dexes": "grvt,edgex"}, format="slack")
        h.service.emit([opened("BTC:lighter:paradex", apy="20"), opened("ETH:lighter:paradex", symbol="ETH"),
                        opened("BTC:grvt:paradex"),
                        {"type": "venue.degraded", "data": {"dex": "grvt", "reason": "HTTP 502 three times"}},
                        {"type": "venue.degraded", "data": {"dex": "lighter", "reason": "timeout"}}])
        h.drain()
        update = opened("BTC:lighter:paradex", apy="24")          # |24 - 20| = 4 < 5 points: not material
        h.service.emit([{**update, "type": "opportunity.updated"}])
        bigger = opened("BTC:lighter:paradex", apy="25.5")        # |25.5 - 20| = 5.5 >= 5: material
        h.service.emit([{**bigger, "type": "opportunity.updated"}])
        h.drain()
        assert [(b["type"], b["data"]["id"], b["data"]["annualized_apy"]) for b in btc_rx.bodies()] == [
            ("opportunity.opened", "BTC:lighter:paradex", 20), ("opportunity.updated", "BTC:lighter:paradex", 25.5)]
        assert venue_rx.bodies() == [{"text": "Venue grvt: degraded — HTTP 502 three times"}]


def test_telegram_format_posts_to_the_bot_api_with_the_chat_id(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    with Receiver(clock=h.clock) as bot_api:
        base = bot_api.url.removesuffix("/hook")
        h.service.config = WebhookConfig(allow_loopback=True, timeout_s=2.0, telegram_api_url=base)
        status, hook = h.call("POST", "/api/v1/webhooks", {
            "format": "telegram", "events": ["venue.recovered"],
            "telegram": {"bot_token": "123456:AAHk-example-token_0123456789", "chat_id": "-1001234"}})
        assert status == 201 and hook["url"] == base and "bot_token" not in json.dumps(hook)
        h.service.emit([{"type": "venue.recovered", "data": {"dex": "edgex"}}])
        h.drain()
        assert [r["path"] for r in bot_api.requests] == ["/bot123456:AAHk-example-token_0123456789/sendMessage"]
        assert bot_api.bodies()[0] == {"chat_id": "-1001234", "text": "Venue edgex: recovered",
                                       "disable_web_page_preview": True}


def test_rate_limit_defers_without_failing(db_url: str) -> None:
    h = Harness(db_url, burst=2)    # 60 per minute = one token per 1000 ms; a burst of 2
    try:
        with Receiver(clock=h.clock) as rx:
            hook = h.register(rx.url, ["opportunity.opened"])
            h.service.emit([opened(f"BTC:lighter:paradex{i}") for i in range(3)])
            h.drain()
            assert len(rx.requests) == 2          # the bucket's 2 tokens
            # next token in (1 - 0) / (60 / 60 000 per ms) = 1000 ms (+1); the wake-up message is delayed in
            # whole seconds, as SQS DelaySeconds: ceil(1001 / 1000) = 2 s
            h.advance(1.999)
            assert len(rx.requests) == 2
            h.advance(0.001)
            assert len(rx.requests) == 3
            assert [d["attempts"] for d in h.deliveries(hook["id"])] == [1, 1, 1]
    finally:
        wiring.reset()
        h.db.close()


# ---- SSRF ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "reason"), [
    ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata service"),
    ("https://127.0.0.1:8443/hook", "loopback"),
    ("https://localhost:8443/hook", "loopback"),
    ("http://127.0.0.1:9000/hook", "scheme must be https"),
    ("https://[::ffff:192.168.1.1]/hook", "private"),
])
def test_registration_refuses_private_addresses_outside_local_mode(db_url: str, url: str, reason: str) -> None:
    h = Harness(db_url, allow_loopback=False)
    try:
        status, body = h.call("POST", "/api/v1/webhooks", {"url": url, "events": ["opportunity.opened"]})
        assert status == 400 and body["parameter"] == "url" and body["error"] == "unsafe_url"
        assert reason in body["detail"]
        assert h.call("GET", "/api/v1/webhooks")[1] == {"webhooks": []}
    finally:
        wiring.reset()
        h.db.close()


def test_local_mode_allows_loopback_but_not_the_lan(harness: Harness) -> None:
    status, body = harness.call("POST", "/api/v1/webhooks", {"url": "https://10.0.0.8/x", "events": ["venue.degraded"]})
    assert status == 400 and body["parameter"] == "url" and "private" in body["detail"]


def test_delivery_refuses_private_addresses_and_does_not_follow_redirects(harness: Harness, db_url: str) -> None:
    h = harness
    metadata = "http://169.254.169.254/latest/meta-data/iam/"
    with Receiver(clock=h.clock) as target, Receiver(default=("redirect", metadata), clock=h.clock) as to_metadata, \
            Receiver(clock=h.clock) as to_loopback:
        to_loopback.default = ("redirect", target.url)
        via_redirect = h.register(to_metadata.url, ["venue.degraded"])
        to_target = h.register(to_loopback.url, ["venue.degraded"])
        # a webhook whose address turned private after registration (DNS changed): written directly
        with psycopg.connect(db_url) as conn:
            conn.execute("INSERT INTO webhooks (id, owner_key_id, url, format, event_types, secret) "
                         "VALUES ('wh_0000000000000000000000aa', %s, 'https://10.0.0.1/hook', 'standard', "
                         "ARRAY['venue.degraded'], %s)", (h.owner, signing.new_secret()))
        h.service.emit([{"type": "venue.degraded", "data": {"dex": "grvt"}}])
        h.drain()
        for hook, error in ((via_redirect, "HTTP 302 redirect to http://169.254.169.254/latest/meta-data/iam/: "
                                           "redirects are not followed"),
                            (to_target, f"HTTP 302 redirect to {target.url}: redirects are not followed")):
            (d,) = h.deliveries(hook["id"])
            assert d["status"] == "pending" and d["last_error"] == error
        assert target.requests == []          # the redirect's target never heard from us
        (d,) = h.deliveries("wh_0000000000000000000000aa")
        assert d["last_error"] == "refused: 10.0.0.1 is a private address"
        assert d["attempt_log"][0]["status_code"] is None


def test_delivery_checks_the_address_it_connects_to(harness: Harness) -> None:
    """Local mode off at delivery time (the flag was turned off after registration): loopback is refused
    at connect time, before a byte is sent."""
    h = harness
    with Receiver(clock=h.clock) as rx:
        hook = h.register(rx.url.replace("http://127.0.0.1", "https://localhost"), ["venue.degraded"])
        h.service.config = WebhookConfig(allow_loopback=False, timeout_s=2.0)
        h.service.emit([{"type": "venue.degraded", "data": {"dex": "grvt"}}])
        h.drain()
        (d,) = h.deliveries(hook["id"])
        assert d["last_error"].startswith("refused: ") and "is a loopback address" in d["last_error"]
        assert rx.requests == []


# ---- API ----------------------------------------------------------------------------------------
def test_api_keys_ownership_and_the_test_endpoint(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    h = harness
    assert h.call("GET", "/api/v1/webhooks", key=None)[0] == 401
    status, body = h.call("GET", "/api/v1/webhooks", key="frsk_000000000000_wrong")
    assert status == 403 and body["parameter"] == "X-API-Key"
    with Receiver(clock=h.clock) as rx:
        hook = h.register(rx.url, ["venue.degraded"], description="desk alerts")
        other_key, key_id, digest = keys.new_key()
        h.service.store.insert_key(key_id, digest, "someone else")
        assert h.call("GET", f"/api/v1/webhooks/{hook['id']}", key=other_key)[0] == 404
        assert h.call("GET", "/api/v1/webhooks", key=other_key)[1] == {"webhooks": []}
        status, queued = h.call("POST", f"/api/v1/webhooks/{hook['id']}/test")
        assert status == 202 and queued["status"] == "queued"
        h.drain()
        assert rx.bodies()[0]["type"] == "webhook.test" and rx.requests[0]["headers"]["webhook-id"] == queued["event_id"]
        status, listed = h.call("GET", "/api/v1/webhooks")
        assert [w["id"] for w in listed["webhooks"]] == [hook["id"]] and "secret" not in listed["webhooks"][0]
        status, body = h.call("POST", "/api/v1/webhooks", {"url": rx.url, "events": ["opportunity.opened"],
                                                            "filters": {"min_divergence": "lots"}})
        assert status == 400 and body["parameter"] == "filters.min_divergence"
        status, body = h.call("POST", "/api/v1/webhooks", {"url": rx.url, "events": ["opportunity.exploded"]})
        assert status == 422 and body["parameter"].startswith("events")
        assert h.call("GET", "/api/v1/webhooks/wh_nope")[0] == 400
        assert h.call("DELETE", f"/api/v1/webhooks/{hook['id']}", key=other_key)[0] == 404
        assert h.call("DELETE", f"/api/v1/webhooks/{hook['id']}") == (200, {"status": "deleted", "id": hook["id"]})
        assert h.call("GET", f"/api/v1/webhooks/{hook['id']}")[0] == 404
    assert h.key not in caplog.text and other_key not in caplog.text     # keys are never logged
    assert h.key.split("_", 2)[2] not in json.dumps(listed)


# ---- the analysis emits; a hanging receiver does not hold it up --------------------------------
def test_analysis_cycle_is_not_delayed_by_a_hanging_receiver(db_url: str, redis_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from frs_local.replay import ReplayServer
    from frs_local.webhook_queue import install

    monkeypatch.setenv("FRS_CHAIN", "inprocess")
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "30")
    with ReplayServer(port=0, seed=1) as replay, Receiver(script=["hang"], hang_s=60) as rx:
        settings = Settings.from_env({"DATABASE_URL": db_url, "REDIS_URL": redis_url, **replay.base_urls()})
        wiring.override(settings=settings)        # storage, kv, webhooks from the real composition root
        queue = install(app)                      # what frs local does: worker thread on the real clock
        try:
            service = wiring.webhooks()
            key, key_id, digest = keys.new_key()
            service.store.insert_key(key_id, digest, "tests")
            with Client(app) as client:
                r = client.http.post("/api/v1/webhooks", headers={"X-API-Key": key, "Content-Type": "application/json"},
                                     body=json.dumps({"url": rx.url, "events": ["opportunity.opened"],
                                                      "filters": {"min_volume_24h": 0, "min_divergence": 0}}))
                assert r.status_code == 201, r.body
                hook = json.loads(r.body)
                summaries = []
                for dex in ("hyperliquid", "paradex"):
                    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                            detail={}, resources=[f"arn:aws:events:::rule/collect-{dex}"])
                    event["id"] = str(uuid.uuid4())
                    summaries.append(client.lambda_.invoke(f"collect-{dex}", event).payload["analysis"]["result"])
            # both analysis runs have returned; the first delivery is still held open by the receiver
            assert rx.in_flight.wait(10), "the queue worker never reached the receiver"
            assert not rx.release.is_set()
            opened_total = sum(s["events"]["opened"] for s in summaries)
            assert opened_total > 0 and sum(s["webhooks"].get("deliveries", 0) for s in summaries) == opened_total
            with psycopg.connect(db_url) as conn:
                status = conn.execute("SELECT status FROM webhook_deliveries WHERE webhook_id = %s ORDER BY id LIMIT 1",
                                      (hook["id"],)).fetchone()[0]
            assert status == "delivering"
            rx.release.set()
            deadline = time.monotonic() + 20
            while len(rx.requests) < opened_total and time.monotonic() < deadline:
                time.sleep(0.05)
            import redis

            from chalicelib.cache import keys as cache_keys

            kv = redis.Redis.from_url(redis_url)
            open_now = set(json.loads(kv.get(cache_keys.opportunity_state())))   # {id: state} of the open ones
            kv.close()
            # every opportunity the analysis holds open was announced once (run 1 had one venue: no pairs)
            assert sorted(b["data"]["id"] for b in rx.bodies()) == sorted(open_now)
        finally:
            queue.stop()
            wiring.reset()


# ---- the sweep: lost wake-ups, retention ----------------------------------------------------------
class DroppingQueue:
    """A queue whose messages are lost (a failed SQS send the service could not see, a crash)."""

    def __init__(self) -> None:
        self.dropped = 0

    def send(self, body: Any, delay_s: int) -> None:
        self.dropped += 1


def test_sweep_requeues_a_lost_wake_up_and_prunes_the_old_log(harness: Harness) -> None:
    h = harness
    with Receiver(clock=h.clock) as rx:
        hook = h.register(rx.url, ["venue.degraded", "venue.recovered"])
        h.service.queue = lost = DroppingQueue()
        h.service.emit([{"type": "venue.degraded", "data": {"dex": "grvt"}},
                        {"type": "venue.recovered", "data": {"dex": "grvt"}}])
        h.service.queue = h.queue
        assert lost.dropped == 1 and h.drain() == 0 and rx.requests == []
        h.clock.advance(19 * 60)        # the wake-up might still be in flight: not yet presumed lost (20 min)
        assert h.service.sweep()["requeued"] == 0
        h.clock.advance(60.001)
        assert h.service.sweep()["requeued"] == 1
        h.drain()
        assert [b["type"] for b in rx.bodies()] == ["venue.degraded", "venue.recovered"]
        # delivered at T0 + 1200.001 s: exactly 30 days later they are kept, 1 ms after that pruned
        h.clock.advance(30 * 86_400)
        h.service.emit([{"type": "venue.degraded", "data": {"dex": "edgex"}}])
        h.drain()
        result = h.service.sweep()
        assert (result["pruned_deliveries"], result["pruned_events"]) == (0, 0)
        h.clock.advance(0.001)
        result = h.service.sweep()
        assert (result["pruned_deliveries"], result["pruned_events"]) == (2, 2)
        assert [d["type"] for d in h.deliveries(hook["id"])] == ["venue.degraded"]
        assert h.deliveries(hook["id"])[0]["status"] == "delivered"
