"""WebSocket connections and their subscriptions in Redis, the client protocol, and the fan-out.

Registry: keys.ws_connection(id) holds a JSON record (channels, filters, endpoint) with a TTL
refreshed on every message; keys.ws_connections() is the set of ids. A record that expired
(API Gateway dropped the socket without a $disconnect) is pruned at the next fan-out, and so is
a connection API Gateway answers 410 Gone for.

Client messages (SPEC.md "WebSocket"):
  {"action": "subscribe", "channels": ["funding_rates", "opportunities"],
   "filters": {"symbols": ["BTC"], "dexes": ["lighter"]}, "format": "single" | "batch"}
  {"action": "unsubscribe", "channels": [...]}      (no channels: all)
  {"action": "ping"}
Anything malformed gets {"type": "error", "error": ..., "detail": ...} back; the socket stays open.

Server messages: each analysis run posts ONE message per subscriber (API Gateway's 128 KB limit
permitting): the SPEC frame itself when only one matched, else the run's frames in order inside
  {"type": "updates", "timestamp": ..., "frames": [{"type": "funding_rate_update", ...}, ...]}
("single": one funding_rate_update per market; "batch": one funding_rate_batch with them all).

Matching: a rate matches when its symbol and dex pass the filters; an opportunity when its
symbol passes and BOTH legs are among `dexes` (a client filtering venues trades only on them).
Venue events ({"type": "venue_event", "event": degraded | failed | recovered | unit_suspect | unit_ok,
"data": {...}}) go to every subscribed connection (any channel) whose `dexes` filter includes the venue:
a venue's health concerns every rate and opportunity on it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.cache import keys
from chalicelib.core.serialize import dumps, iso_ms

log = logging.getLogger(__name__)
CHANNELS = ("funding_rates", "opportunities")
FORMATS = ("single", "batch")
CONNECTION_TTL_S = 2 * 3600      # API Gateway's hard limit on a WebSocket connection's life
_FILTER_KEYS = ("symbols", "dexes")


class BadMessage(ValueError):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


def error_frame(exc: BadMessage, now_ms: int) -> dict[str, Any]:
    return {"type": "error", "timestamp": iso_ms(now_ms), "error": exc.error, "detail": exc.detail}


# ---- registry -------------------------------------------------------------------------------
def connect(kv: Any, connection_id: str, *, now_ms: int, channel: str | None = None,
            endpoint: str | None = None) -> dict[str, Any]:
    """Register a connection. `channel` (from ?channel=) is the default for a bare subscribe."""
    record: dict[str, Any] = {"id": connection_id, "connected_at": iso_ms(now_ms), "default_channels":
              [channel] if channel in CHANNELS else list(CHANNELS), "channels": [], "filters": {},
              "format": "single", "endpoint": endpoint}
    _save(kv, record)
    kv.sadd(keys.ws_connections(), connection_id)
    return record


def disconnect(kv: Any, connection_id: str) -> None:
    prune(kv, [connection_id])


def prune(kv: Any, connection_ids: Iterable[str]) -> int:
    ids = list(connection_ids)
    if not ids:
        return 0
    kv.delete(*[keys.ws_connection(cid) for cid in ids])
    return int(kv.srem(keys.ws_connections(), *ids))


def load(kv: Any, connection_id: str) -> dict[str, Any] | None:
    raw = kv.get(keys.ws_connection(connection_id))
    return json.loads(raw) if raw else None


def load_all(kv: Any) -> list[dict[str, Any]]:
    """Every live connection record; ids whose record expired are pruned from the set."""
    ids = sorted(m.decode() if isinstance(m, bytes) else m for m in kv.smembers(keys.ws_connections()))
    if not ids:
        return []
    raws = kv.mget([keys.ws_connection(cid) for cid in ids])
    records, expired = [], []
    for cid, raw in zip(ids, raws, strict=True):
        (records.append(json.loads(raw)) if raw else expired.append(cid))
    if expired:
        kv.srem(keys.ws_connections(), *expired)
    return records


def _save(kv: Any, record: Mapping[str, Any]) -> None:
    kv.set(keys.ws_connection(record["id"]), json.dumps(record), ex=CONNECTION_TTL_S)


# ---- client protocol ------------------------------------------------------------------------
def _names(value: Any, field: str, *, upper: bool) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise BadMessage("invalid_filters", f"filters.{field} must be a list of non-empty strings")
    return sorted({v.strip().upper() if upper else v.strip().lower() for v in value})


def parse_filters(raw: Any, known_dexes: Iterable[str]) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadMessage("invalid_filters", "filters must be an object with symbols and/or dexes")
    unknown_keys = sorted(set(raw) - set(_FILTER_KEYS))
    if unknown_keys:
        raise BadMessage("invalid_filters", f"unknown filter {unknown_keys[0]!r}; expected symbols, dexes")
    out: dict[str, list[str]] = {}
    symbols = _names(raw.get("symbols"), "symbols", upper=True)
    dexes = _names(raw.get("dexes"), "dexes", upper=False)
    if dexes is not None:
        unknown = [d for d in dexes if d not in set(known_dexes)]
        if unknown:
            raise BadMessage("invalid_filters", f"unknown dex {unknown[0]!r}; known: {', '.join(sorted(known_dexes))}")
        out["dexes"] = dexes
    if symbols is not None:
        out["symbols"] = symbols
    return out


def _channels(raw: Any, default: Sequence[str]) -> list[str]:
    if raw is None:
        return list(default)
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        raise BadMessage("invalid_channels", f"channels must be a non-empty list of {', '.join(CHANNELS)}")
    bad = [c for c in raw if c not in CHANNELS]
    if bad:
        raise BadMessage("invalid_channels", f"unknown channel {bad[0]!r}; expected {', '.join(CHANNELS)}")
    return [c for c in CHANNELS if c in raw]


def handle_message(kv: Any, connection_id: str, body: str | None, *, now_ms: int,
                   known_dexes: Iterable[str], endpoint: str | None = None) -> dict[str, Any]:
    """Apply one client message; returns the reply frame (an error frame for bad input).

    A connection whose record expired (idle past its TTL) is registered again from this message."""
    try:
        try:
            message = json.loads(body or "")
        except (ValueError, RecursionError):   # RecursionError: nesting deeper than the parser's stack
            raise BadMessage("invalid_json", "message is not valid JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("action"), str):
            raise BadMessage("invalid_message", 'expected an object with "action": subscribe | unsubscribe | ping')
        record = load(kv, connection_id) or connect(kv, connection_id, now_ms=now_ms, endpoint=endpoint)
        action = message["action"]
        if action == "ping":
            _save(kv, record)  # refresh the TTL
            return {"type": "pong", "timestamp": iso_ms(now_ms)}
        if action == "subscribe":
            fmt = message.get("format", record.get("format", "single"))
            if fmt not in FORMATS:
                raise BadMessage("invalid_format", f"format must be one of {', '.join(FORMATS)}")
            channels = _channels(message.get("channels"), record.get("default_channels") or CHANNELS)
            record.update(channels=sorted(set(record["channels"]) | set(channels)),
                          filters=parse_filters(message.get("filters"), known_dexes), format=fmt)
            _save(kv, record)
            return {"type": "subscribed", "timestamp": iso_ms(now_ms), "channels": record["channels"],
                    "filters": record["filters"], "format": fmt}
        if action == "unsubscribe":
            channels = _channels(message.get("channels"), CHANNELS)
            record["channels"] = [c for c in record["channels"] if c not in channels]
            _save(kv, record)
            return {"type": "unsubscribed", "timestamp": iso_ms(now_ms), "channels": record["channels"]}
        raise BadMessage("unknown_action", f"unknown action {action!r}; expected subscribe, unsubscribe, ping")
    except BadMessage as exc:
        return error_frame(exc, now_ms)


# ---- fan-out --------------------------------------------------------------------------------
def rate_matches(filters: Mapping[str, list[str]], data: Mapping[str, Any]) -> bool:
    symbols, dexes = filters.get("symbols"), filters.get("dexes")
    return (symbols is None or data["symbol"] in symbols) and (dexes is None or data["dex_name"] in dexes)


def opportunity_matches(filters: Mapping[str, list[str]], data: Mapping[str, Any]) -> bool:
    symbols, dexes = filters.get("symbols"), filters.get("dexes")
    return (symbols is None or data["symbol"] in symbols) and (
        dexes is None or (data["long_dex"] in dexes and data["short_dex"] in dexes))


@dataclass(frozen=True, slots=True)
class Updates:
    """What one analysis cycle has to say, already shaped as SPEC frames' `data`."""

    timestamp: str
    rates: Sequence[Mapping[str, Any]]                  # funding_rate_update data (changed markets)
    opportunities: Sequence[tuple[str, Mapping[str, Any]]]   # (opened|updated|closed, data)
    venues: Sequence[Mapping[str, Any]] = ()            # venue events (services/venue_watch.py), on change only


class _Encoded:
    """One run's frames encoded once, indexed by symbol and dex (a subscriber costs its matches, not the run)."""

    def __init__(self, updates: Updates) -> None:
        ts = updates.timestamp
        self.rates = updates.rates
        self.single = [dumps({"type": "funding_rate_update", "timestamp": ts, "data": d}) for d in updates.rates]
        self.item = [dumps(d) for d in updates.rates]
        self.rates_by_symbol: dict[Any, list[int]] = {}
        for i, d in enumerate(updates.rates):
            self.rates_by_symbol.setdefault(d["symbol"], []).append(i)
        self.opps = updates.opportunities
        self.opp_frames = [dumps({"type": "opportunity_update", "timestamp": ts, "event": event, "data": d})
                           for event, d in updates.opportunities]
        self.opps_by_symbol: dict[Any, list[int]] = {}
        for i, (_, d) in enumerate(updates.opportunities):
            self.opps_by_symbol.setdefault(d["symbol"], []).append(i)
        self.batch_head = dumps({"type": "funding_rate_batch", "timestamp": ts})[:-1] + ',"data":['
        self.venues = updates.venues
        self.venue_frames = [dumps({"type": "venue_event", "timestamp": ts, "event": e["event"], "data": e})
                             for e in updates.venues]

    @staticmethod
    def _candidates(by_symbol: Mapping[Any, list[int]], total: int, symbols: list[str] | None) -> Iterable[int]:
        if symbols is None:
            return range(total)
        return sorted(i for s in symbols for i in by_symbol.get(s, ()))


def frames_for(record: Mapping[str, Any], updates: Updates | _Encoded, *, max_bytes: int | None = None) -> list[str]:
    """The encoded SPEC frames one connection gets, in order: rates then opportunity events.

    `batch` puts the rates in funding_rate_batch frames, each at most `max_bytes` when given."""
    enc = updates if isinstance(updates, _Encoded) else _Encoded(updates)
    filters, channels = record.get("filters") or {}, record.get("channels") or []
    symbols = filters.get("symbols")
    out: list[str] = []
    if "funding_rates" in channels:
        rates = [i for i in enc._candidates(enc.rates_by_symbol, len(enc.rates), symbols)
                 if rate_matches(filters, enc.rates[i])]
        if record.get("format") == "batch" and rates:
            head = enc.batch_head
            out.extend(head + ",".join(part) + "]}"
                       for part in _packed([enc.item[i] for i in rates], len(head) + 2, max_bytes))
        else:
            out.extend(enc.single[i] for i in rates)
    if "opportunities" in channels:
        out.extend(enc.opp_frames[i] for i in enc._candidates(enc.opps_by_symbol, len(enc.opps), symbols)
                   if opportunity_matches(filters, enc.opps[i][1]))
    if channels:
        dexes = filters.get("dexes")
        out.extend(frame for e, frame in zip(enc.venues, enc.venue_frames, strict=True)
                   if dexes is None or e["dex_name"] in dexes)
    return out


def messages_for(frames: Sequence[str], timestamp: str, max_bytes: int) -> list[str]:
    """A connection's frames of one run as WebSocket messages: ONE message unless they exceed `max_bytes`.

    One frame goes as it is (the SPEC frame); more go in one envelope,
    {"type": "updates", "timestamp": ..., "frames": [frame, ...]}, in order. Over the API Gateway
    message limit the envelope is split into as few messages as fit (ceil(size / max_bytes) or one more).
    """
    if len(frames) <= 1:
        return list(frames)
    head = _envelope_head(timestamp)
    return [part[0] if len(part) == 1 else head + ",".join(part) + "]}"
            for part in _packed(list(frames), len(head) + 2, max_bytes)]


@functools.lru_cache(maxsize=4)
def _envelope_head(timestamp: str) -> str:   # one run, one timestamp: encoded once, not per connection
    return dumps({"type": "updates", "timestamp": timestamp})[:-1] + ',"frames":['


def _packed(items: list[str], overhead: int, max_bytes: int | None) -> list[list[str]]:
    """Consecutive runs of `items` whose comma-joined size plus `overhead` stays within `max_bytes`."""
    if max_bytes is None:
        return [items]
    runs: list[list[str]] = [[]]
    size = overhead
    for item in items:
        n = len(item.encode()) if not item.isascii() else len(item)
        if runs[-1] and size + 1 + n > max_bytes:
            runs.append([])
            size = overhead
        size += n + (1 if len(runs[-1]) else 0)
        runs[-1].append(item)
    return runs


def fan_out(kv: Any, pusher: Any, updates: Updates, *, max_bytes: int | None = None) -> dict[str, int]:
    """Push to every subscriber whose filters match, ONE post per connection per run; prune the gone ones.

    Connections with the same subscription share the encoded messages. Returns counts: `messages`
    (posts delivered), `frames_delivered` (SPEC frames inside them), `frames_failed`, `pruned`."""
    from chalicelib.transport.push import MAX_MESSAGE_BYTES

    limit = max_bytes or MAX_MESSAGE_BYTES
    records = load_all(kv)
    by_endpoint: dict[str | None, dict[str, list[str]]] = {}
    frame_count: dict[str, int] = {}
    cache: dict[str, tuple[list[str], int]] = {}
    encoded = _Encoded(updates)
    for record in records:
        signature = json.dumps([record.get("channels"), record.get("filters"), record.get("format")], sort_keys=True)
        cached = cache.get(signature)
        if cached is None:
            frames = frames_for(record, encoded, max_bytes=limit)
            cached = cache[signature] = (messages_for(frames, updates.timestamp, limit), len(frames))
        messages, count = cached
        if messages:
            by_endpoint.setdefault(record.get("endpoint"), {})[record["id"]] = messages
            frame_count[record["id"]] = count
    delivered = posted = failed = 0
    gone: list[str] = []
    for endpoint, messages_by_connection in by_endpoint.items():
        try:
            result = pusher.send(messages_by_connection, endpoint)
        except Exception as exc:   # no endpoint configured / client error: count it, never fail the analysis
            log.warning("push to %d connections via %s failed: %s", len(messages_by_connection), endpoint, exc)
            failed += sum(frame_count[cid] for cid in messages_by_connection)
            continue
        missed = set(result.gone) | set(getattr(result, "failed_ids", ()))
        reached = sum(frame_count[cid] for cid in messages_by_connection if cid not in missed)
        posted += result.delivered
        delivered += reached
        failed += sum(frame_count[cid] for cid in messages_by_connection if cid in missed and cid not in result.gone)
        gone += result.gone
    pruned = prune(kv, gone)
    return {"connections": len(records), "recipients": sum(len(v) for v in by_endpoint.values()),
            "messages": posted, "frames_delivered": delivered, "frames_failed": failed, "pruned": pruned}
