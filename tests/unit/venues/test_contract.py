"""Contract tests over every registered venue (STYLE.md: one parametrized suite, quirks live elsewhere)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.core.models import MarketSnapshot
from chalicelib.settings import Settings
from chalicelib.venues import REGISTRY
from chalicelib.venues.base import ParseError, Request, VenueSpec
from tests.unit.venues.conftest import NOW_MS, manifest

VENUE_DIR = Path(__file__).resolve().parents[3] / "chalicelib" / "venues"
IDS = [m.SPEC.id for m in REGISTRY]


def test_every_venue_module_is_registered():
    files = {p.stem for p in VENUE_DIR.glob("*.py")} - {"base", "__init__"}
    assert files == {m.__name__.rsplit(".", 1)[-1] for m in REGISTRY}


@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_module_shape(venue):
    spec = venue.SPEC
    assert isinstance(spec, VenueSpec)
    assert spec.id == spec.id.lower() == venue.__name__.rsplit(".", 1)[-1]
    assert Settings.from_env({}).api_url(spec.id) == spec.default_base_url   # no settings edit per venue
    assert spec.base_url_env == f"{spec.id.upper()}_API_URL"
    if hasattr(venue, "history_requests"):   # the backfill's dry-run estimate pages by it
        assert isinstance(venue.HISTORY_PAGE_ROWS, int) and venue.HISTORY_PAGE_ROWS > 0
    assert spec.funding_interval_hours > 0 and spec.rate_scale > 0
    assert callable(venue.requests) and callable(venue.parse)
    source = Path(venue.__file__).read_text()
    assert len(source.splitlines()) < 100, "STYLE.md: a venue module stays under 100 lines"
    assert (venue.__doc__ or "").strip().count("\n") == 0 and "http" in venue.__doc__, "one-line docstring naming the docs page"
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not imported & {"httpx", "boto3", "psycopg", "redis", "requests"}, "venue modules are pure"


@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_requests_are_well_formed(venue, recorded):
    reqs = venue.requests(venue.SPEC)
    follow = getattr(venue, "follow_up", None)
    if follow is not None:
        reqs = reqs + follow(venue.SPEC, recorded(venue.SPEC.id))
    assert reqs
    for r in reqs:
        assert isinstance(r, Request)
        assert r.path.startswith("/") and r.method in ("GET", "POST")
        assert all(isinstance(v, str) for v in r.params.values())
    assert len({r.key for r in reqs}) == len(reqs), "payload keys are unique"


@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_recorded_fixture_parses_to_normalized_snapshots(venue, recorded):
    result = venue.parse(venue.SPEC, recorded(venue.SPEC.id), now_ms=NOW_MS)
    assert len(result.snapshots) >= 1
    for s in result.snapshots:
        assert isinstance(s, MarketSnapshot)
        family = venue.SPEC.family_prefix
        assert s.dex == venue.SPEC.id or (family and s.dex.startswith(family) and s.dex != venue.SPEC.id)
        assert s.symbol == s.symbol.upper() and s.symbol.isalnum()
        assert abs(s.rate_1h * s.funding_interval_hours - s.funding_rate) <= Decimal("1e-24")
        assert s.rate_8h == s.rate_1h * 8
        assert s.mark_price > 0 and s.funding_interval_hours > 0
        assert abs(s.rate_1h) <= Decimal("0.05")
        assert s.fetched_at_ms == NOW_MS
        assert s.quote == venue.SPEC.quote or family   # a family's members each have their own collateral
        assert all(isinstance(v, Decimal) for v in (s.funding_rate, s.mark_price, s.funding_interval_hours))
        if s.open_interest_usd is not None:
            assert s.open_interest_usd >= 0


@pytest.mark.parametrize("garbage", [{}, [], "x", None, 42], ids=["dict", "list", "str", "null", "int"])
@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_garbage_payload_raises_parse_error_naming_the_venue(venue, garbage):
    payloads = {r.key: garbage for r in venue.requests(venue.SPEC)}
    with pytest.raises(ParseError, match=venue.SPEC.id):
        venue.parse(venue.SPEC, payloads, now_ms=NOW_MS)


@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_missing_payloads_raise_parse_error(venue):
    with pytest.raises(ParseError, match=venue.SPEC.id):
        venue.parse(venue.SPEC, {}, now_ms=NOW_MS)


@pytest.mark.parametrize("venue", REGISTRY, ids=IDS)
def test_unit_assumptions_are_declared(venue):
    assert venue.SPEC.notes and venue.SPEC.docs_url.startswith("https://")


HISTORY = [m for m in REGISTRY if hasattr(m, "history_requests")]
HISTORY_SYMBOL = {"hyperliquid": "BTC", "lighter": "ETH#0", "paradex": "BTC-USD-PERP", "grvt": "BTC_USDT_Perp",
                  "edgex": "BTCUSDC#30000001"} | {
                  m.SPEC.id: found["history_symbol"] for m in HISTORY if (found := manifest(m.SPEC.id))}


@pytest.mark.parametrize("venue", HISTORY, ids=[m.SPEC.id for m in HISTORY])
def test_history_contract(venue):
    assert callable(venue.parse_history)
    req = venue.history_requests(venue.SPEC, HISTORY_SYMBOL[venue.SPEC.id], 1_700_000_000_000, 1_700_086_400_000, None)
    assert isinstance(req, Request) and req.path.startswith("/") and req.method in ("GET", "POST")
    assert all(isinstance(v, str) for v in req.params.values())
    for garbage in ({}, "x", None, {"result": "x", "results": "x", "fundings": "x", "data": "x", "code": "SUCCESS"}):
        with pytest.raises(ParseError, match=venue.SPEC.id):
            venue.parse_history(venue.SPEC, garbage, dex_symbol=HISTORY_SYMBOL[venue.SPEC.id])
