"""Standard Webhooks signing (https://www.standardwebhooks.com): pure, no clock, no I/O.

    webhook-id:        the event id (the same on every retry; receivers de-duplicate on it)
    webhook-timestamp: integer seconds since the epoch of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>

The secret is `whsec_` + base64 of 32 random bytes; the HMAC key is the decoded bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
TOLERANCE_S = 300   # receivers should refuse timestamps further than this from their clock


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(PREFIX):], validate=True)


def sign(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    content = f"{msg_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp_s),
            "webhook-signature": sign(secret, msg_id, timestamp_s, body)}


def verify(secret: str, header_map: dict[str, str], body: bytes, *, now_s: int) -> bool:
    """What a receiver does (used by the tests' receivers and documented in docs/webhooks.md)."""
    lower = {k.lower(): v for k, v in header_map.items()}
    msg_id, ts, sigs = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not (msg_id and ts and sigs) or not ts.isdigit() or abs(now_s - int(ts)) > TOLERANCE_S:
        return False
    expected = sign(secret, msg_id, int(ts), body)
    return any(hmac.compare_digest(expected, s) for s in sigs.split(" "))
