"""Webhook API keys: who may manage webhooks. `frs webhook-key --owner NAME` issues one.

A key reads `frsk_<key_id>_<secret>`: key_id (12 hex) is stored as is and finds the row; of the
secret (43 url-safe characters, 256 random bits) only its SHA-256 is stored, compared with
hmac.compare_digest. The key is printed once at issue and never logged (the API reads it from the
X-API-Key header, which no log line of this service writes). A lost key is revoked
(webhook_api_keys.revoked_at) and a new one issued.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
from typing import Any

from chalicelib.api.errors import ApiError

PREFIX = "frsk_"
_DUMMY = hashlib.sha256(b"no such key").digest()


def new_key() -> tuple[str, str, bytes]:
    """(the key to hand out, its key_id, SHA-256 of its secret)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return f"{PREFIX}{key_id}_{secret}", key_id, hashlib.sha256(secret.encode()).digest()


def authenticate(store: Any, headers: Any) -> int:
    """The owner (webhook_api_keys.id) of the X-API-Key header; 401 missing, 403 wrong or revoked."""
    given = (headers or {}).get("x-api-key")
    if not given:
        raise ApiError(401, "missing X-API-Key header (a webhook API key: frs webhook-key)", "X-API-Key", "unauthorized")
    parts = given.split("_", 2)
    key_id, secret = (parts[1], parts[2]) if len(parts) == 3 and given.startswith(PREFIX) else ("", "")
    row = store.key_row(key_id) if key_id else None
    expected = bytes(row["secret_sha256"]) if row else _DUMMY
    ok = hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), expected)
    if not ok or row is None or row["revoked_at"] is not None:
        raise ApiError(403, "invalid API key", "X-API-Key", "forbidden")
    return int(row["id"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--owner", required=True, help="who the key is for (a label shown nowhere else)")


def run(args: argparse.Namespace) -> int:
    from chalicelib import wiring

    store = wiring.webhooks().store
    key, key_id, digest = new_key()
    store.insert_key(key_id, digest, args.owner)
    print(f"webhook API key for {args.owner} (shown once; send it as X-API-Key):\n{key}")
    return 0
