"""Redis key and channel names: pure, versioned builders (SPEC.md "Cache Keys", prefixed frs:v1)."""

from __future__ import annotations

PREFIX = "frs:v1"


def latest_rates() -> str:
    return f"{PREFIX}:latest_funding_rates"


def latest_rates_dex(dex: str) -> str:
    return f"{PREFIX}:latest_funding_rates:{dex}"


def opportunity_state() -> str:
    """Ids of the opportunities open after the last analysis (to emit opened/updated/closed)."""
    return f"{PREFIX}:opportunities:state"


def dex_metadata(dex: str) -> str:
    return f"{PREFIX}:dex_metadata:{dex}"


def fees_version() -> str:
    """Bumped on every fee change; in-process caches compare it to drop stale fee-derived entries."""
    return f"{PREFIX}:fees:version"


def breaker(dex: str) -> str:
    return f"{PREFIX}:breaker:{dex}"


def ws_connection(connection_id: str) -> str:
    return f"{PREFIX}:ws:conn:{connection_id}"


def ws_connections() -> str:
    return f"{PREFIX}:ws:conns"


def channel(name: str) -> str:
    """Pub/sub channel: channel('funding_rates'), channel('opportunities')."""
    return f"{PREFIX}:channel:{name}"


def metrics(name: str) -> str:
    return f"{PREFIX}:metrics:{name}"


def venue_states() -> str:
    """Per-venue state after the last analysis (collection + units), diffed to emit venue events on change."""
    return f"{PREFIX}:venues:state"


def unit_check() -> str:
    """The last cross-venue unit check: {"checked_at", "venues": {dex: verdict}} (core/unit_check.py)."""
    return f"{PREFIX}:venues:unit_check"


def calibration() -> str:
    """Latest calibration verdict per venue (settled vs published), written by the settlement run."""
    return f"{PREFIX}:calibration"


def push_status() -> str:
    """The last WebSocket fan-out the analysis ran: {"at_ms", "connections", "frames_delivered", "frames_failed"}."""
    return f"{PREFIX}:ws:push_status"


def fee_schedules(version: bytes | str | int | None) -> str:
    """Every venue's fee schedule (core.codec.fees_to_json) under one fees_version: a fee update bumps the
    version, so a reader never takes an old copy. Written by the analysis and by the REST fee reads."""
    v = version.decode() if isinstance(version, bytes) else str(version or 0)
    return f"{dex_metadata('fees')}:v{v}"


def persistence_sums() -> str:
    """The incremental persistence summary (core.persistence.Sums) the analysis rolls each clock hour; REST reads
    the pair statistics from the same bytes (core.persistence.Table)."""
    return f"{PREFIX}:persistence:sums"


def persistence_legs() -> str:
    """Per-market settled (or collected) funding sums of the trailing 24 h / 7 d (realized returns), JSON."""
    return f"{PREFIX}:persistence:legs"


def settlements_version() -> str:
    """A counter the settlement run bumps when it stored new settlements: the analysis then recomputes the realized
    sums (persistence_legs) at its next run instead of waiting for the next clock hour's roll."""
    return f"{PREFIX}:persistence:settled_version"


def opportunity_opened() -> str:
    """{opportunity id: opened_at (epoch ms)} of the open spells (core/lifecycle.py), written each analysis."""
    return f"{PREFIX}:persistence:opened"
