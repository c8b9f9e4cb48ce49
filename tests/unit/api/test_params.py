"""Query/path/body validation: every failure is an ApiError naming the parameter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.api import params as p
from chalicelib.api.errors import ApiError


class Multi(dict):
    """Chalice's MultiDict: getlist gives every value of a repeated parameter."""

    def getlist(self, key):
        value = self[key]
        return value if isinstance(value, list) else [value]


def fails(model, query) -> ApiError:
    with pytest.raises(ApiError) as info:
        p.parse_query(model, Multi(query))
    return info.value


@pytest.mark.parametrize(("model", "query", "parameter"), [
    (p.OpportunityQuery, {"limit": "0"}, "limit"),
    (p.OpportunityQuery, {"limit": "101"}, "limit"),
    (p.OpportunityQuery, {"limit": "abc"}, "limit"),
    (p.OpportunityQuery, {"sort_by": "bogus"}, "sort_by"),
    (p.OpportunityQuery, {"min_profti": "1"}, "min_profti"),
    (p.OpportunityQuery, {"min_volume": "NaN"}, "min_volume"),
    (p.OpportunityQuery, {"hold_hours": "0"}, "hold_hours"),
    (p.OpportunityQuery, {"fee_type": "cheap"}, "fee_type"),
    (p.OpportunityQuery, {"include_dexes": "ok,b@d"}, "include_dexes"),     # the name sent, not pydantic's item path
    (p.OpportunityQuery, {"exclude_dexes": ["ok", "b@d"]}, "exclude_dexes"),
    (p.OpportunityQuery, {"include_dexes": " , "}, "include_dexes"),      # no DEX at all: not "match nothing"
    (p.HistoryQuery, {"start_time": "garbage"}, "start_time"),
    (p.HistoryQuery, {"period": "7x"}, "period"),
    (p.HistoryQuery, {"interval": "2h"}, "interval"),
    (p.HistoryQuery, {"page_size": "1001"}, "page_size"),
    (p.HistoryQuery, {"start_time": "1800-01-01T00:00:00Z"}, "start_time"),
    (p.RatesQuery, {"basis": "weekly"}, "basis"),
    (p.RatesQuery, {"include_metadata": "maybe"}, "include_metadata"),
    (p.RatesQuery, {"dex": "no spaces"}, "dex"),
    (p.CompareQuery, {"dex1": "lighter"}, "dex2"),
    (p.StatsQuery, {"period": "1y"}, "period"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(model, query, parameter) -> None:
    err = fails(model, query)
    assert err.status == 400
    assert err.parameter == parameter
    assert set(err.body()) == {"error", "detail", "parameter"}


def test_unknown_parameter_is_rejected_by_name() -> None:
    err = fails(p.OpportunityQuery, {"min_profti": "0.1"})
    assert err.error == "unknown_parameter"
    assert "min_profti" in err.detail


def test_repeated_scalar_parameter_is_rejected() -> None:
    assert fails(p.OpportunityQuery, {"limit": ["1", "2"]}).parameter == "limit"


def test_defaults_aliases_and_normalization() -> None:
    q = p.parse_query(p.OpportunityQuery, Multi({"min_profit_percent": "0.001", "min_volume_24h": "0",
                                                 "include_dexes": "Lighter, EDGEX", "symbol": "btc"}))
    assert q.min_profit == Decimal("0.001")
    assert q.min_volume == 0
    assert q.include_dexes == ["lighter", "edgex"]
    assert q.symbol == "BTC"
    assert (q.min_divergence, q.limit, q.sort_by, q.sort_desc) == (Decimal("0.0001"), 10, "net_profit_percent", True)
    assert (q.hold_hours, q.fee_type) == (Decimal(8), "maker")
    assert p.parse_query(p.RatesQuery, None).basis == "8h"


def test_time_window_rules() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 10, tzinfo=UTC)
    q = p.parse_query(p.HistoryQuery, Multi({"period": "24h"}))
    assert q.window(now) == (now - timedelta(hours=24), now)
    q = p.parse_query(p.HistoryQuery, Multi({"start_time": "2026-01-01T00:00:00"}))  # naive = UTC
    assert q.window(now)[0] == datetime(2026, 1, 1, tzinfo=UTC)
    both = p.parse_query(p.HistoryQuery, Multi({"period": "7d", "start_time": "2026-01-01T00:00:00Z"}))
    with pytest.raises(ApiError) as info:
        both.window(now)
    assert info.value.parameter == "period"
    reversed_ = p.parse_query(p.HistoryQuery, Multi({"start_time": "2026-01-05T00:00:00Z",
                                                     "end_time": "2026-01-04T00:00:00Z"}))
    with pytest.raises(ApiError) as info:
        reversed_.window(now)
    assert info.value.parameter == "start_time"


def test_path_parameters() -> None:
    assert p.parse_path(p.DexSymbolPath, dex="Lighter", symbol="eth").model_dump() == {"dex": "lighter", "symbol": "ETH"}
    with pytest.raises(ApiError) as info:
        p.parse_path(p.DexPath, dex="bad/../dex")
    assert (info.value.status, info.value.parameter) == (400, "dex")


@pytest.mark.parametrize(("raw", "status", "parameter"), [
    (b"", 400, "body"),
    (b"{not json", 400, "body"),
    (b"[]", 422, "body"),
    (b'{"maker_fee_percent": 0.0002}', 422, "taker_fee_percent"),
    (b'{"maker_fee_percent": 0.5, "taker_fee_percent": 0.0005}', 422, "maker_fee_percent"),
    # 5 % passed the REST bound once but the core's fee validation (|fee| <= 1 %) refused it on read-back
    (b'{"maker_fee_percent": 0.0002, "taker_fee_percent": 0.05}', 422, "taker_fee_percent"),
    (b'{"maker_fee_percent": 0.0002, "taker_fee_percent": 0.0005, "extra": 1}', 422, "extra"),
    (b'{"maker_fee_percent": 0.0002, "taker_fee_percent": 0.0005, "has_fee_tiers": true}', 422, "body"),
    (b'{"maker_fee_percent": 0, "taker_fee_percent": 0, "has_fee_tiers": true, "fee_tiers": ['
     b'{"min_volume_30d": 0, "max_volume_30d": 100, "maker_fee": 0, "taker_fee": 0},'
     b'{"min_volume_30d": 50, "max_volume_30d": null, "maker_fee": 0, "taker_fee": 0}]}', 422, "fee_tiers"),
])
def test_admin_body_validation(raw, status, parameter) -> None:
    with pytest.raises(ApiError) as info:
        p.parse_body(raw, p.FeeStructureBody)
    assert (info.value.status, info.value.parameter) == (status, parameter)


def test_admin_body_keeps_exact_decimals() -> None:
    body = p.parse_body(b'{"maker_fee_percent": 0.00015, "taker_fee_percent": 0.00045}', p.FeeStructureBody)
    assert body.maker_fee_percent == Decimal("0.00015")
    assert body.taker_fee_percent == Decimal("0.00045")


@pytest.mark.parametrize(("raw", "fraction"), [
    ("0.002", Decimal("0.002")),       # a fraction, as SPEC's net_profit_percent is
    ("0.2%", Decimal("0.002")),        # the percent sign makes it a percent: 0.2 / 100
    ("-0.05%", Decimal("-0.0005")),
    ("0.0999", Decimal("0.0999")),     # just under the percent look-alike threshold (0.1)
])
def test_min_profit_is_a_fraction_or_an_explicit_percent(raw: str, fraction: Decimal) -> None:
    assert p.parse_query(p.OpportunityQuery, Multi({"min_profit": raw})).min_profit == fraction
    assert p.parse_query(p.OpportunityHistoryQuery, Multi({"min_profit": raw})).min_profit == fraction


@pytest.mark.parametrize("model", [p.OpportunityQuery, p.OpportunityHistoryQuery])
def test_min_profit_that_looks_like_a_percent_is_refused_with_the_unit(model) -> None:
    err = fails(model, {"min_profit": "0.2"})   # a trader meaning 0.2 % would otherwise match nothing
    assert err.status == 400 and err.parameter == "min_profit"
    assert "fraction of notional" in err.detail and "0.002" in err.detail and "0.2%" in err.detail


# ---- the plain validator and the pydantic model derived from the same declarations ------------------------------
AGREE = [   # (class, query): spellings the plain validator decides itself and ones it hands over
    (p.OpportunityQuery, {}),
    (p.OpportunityQuery, {"min_profit": "0.002", "limit": "25", "sort_desc": "false", "fee_type": "taker"}),
    (p.OpportunityQuery, {"min_profit": "0.2%", "hold_hours": "0.001", "include_dexes": "Lighter,edgex"}),
    (p.OpportunityQuery, {"min_volume_24h": "0", "max_volume": "1000000000000000", "oi_imbalance": "balanced"}),
    (p.OpportunityQuery, {"hold_hours": "1E2", "limit": "+5", "sort_desc": "yes"}),       # handed over, accepted
    (p.OpportunityQuery, {"hold_hours": "0.0009"}), (p.OpportunityQuery, {"limit": "007"}),
    (p.OpportunityQuery, {"min_profit": "0.01", "min_profit_percent": "0.02"}),           # one field, two names
    (p.RatesQuery, {"basis": "apr", "dex": " HYPERLIQUID ", "symbol": "btc", "include_metadata": "1"}),
    (p.RatesQuery, {"include_metadata": "True"}), (p.RatesQuery, {"dex": "x\n"}),
    (p.HistoryQuery, {"start_time": "2026-01-01T00:00:00+05:30", "end_time": "2026-01-02T00:00:00.25Z"}),
    (p.HistoryQuery, {"start_time": "2026-01-01 00:00:00"}), (p.HistoryQuery, {"start_time": "1999-12-31T23:00:00-02:00"}),
    (p.HistoryQuery, {"start_time": "2026-02-30T00:00:00Z"}), (p.HistoryQuery, {"page": "1000000", "page_size": "1000"}),
    (p.BacktestQuery, {"symbol": "eth", "long_dex": "a", "short_dex": "b", "start_time": "2026-01-01T00:00:00"}),
    (p.BacktestQuery, {"symbol": "eth", "long_dex": "a", "short_dex": "b"}),              # required one missing
    (p.CompareQuery, {"dex1": "a", "dex2": "b", "hold_hours": "8760"}),
    (p.OpportunityHistoryQuery, {"min_profit": "-1", "limit": "1000"}), (p.StatsQuery, {"period": "90d"}),
]


def outcome(run):
    try:
        return ("ok", {k: (type(v), v) for k, v in run().model_dump().items()})
    except ApiError as err:
        return ("error", err.status, err.body())


@pytest.mark.parametrize(("model", "query"), AGREE)
def test_plain_validator_agrees_with_the_derived_pydantic_model(model, query) -> None:
    plain = outcome(lambda: p._validate(model, dict(query)))
    derived = outcome(lambda: p._authority(model, dict(query)))
    assert plain == derived


def test_plain_validator_values() -> None:
    from datetime import UTC, datetime

    q = p.parse_query(p.HistoryQuery, Multi({"start_time": "2026-01-01T05:30:00+05:30", "page": "3"}))
    assert q.start_time == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)   # 05:30 at +05:30 is midnight UTC
    assert (q.page, q.page_size, q.basis, q.interval) == (3, 100, "8h", "1h")
    q = p.parse_query(p.OpportunityQuery, Multi({"min_profit": "0.5%", "exclude_dexes": ["a", "B,c"]}))
    assert q.min_profit == Decimal("0.005")                         # 0.5 / 100
    assert q.exclude_dexes == ["a", "b", "c"]
    moved = q.model_copy(update={"symbol": "ETH"})
    assert (moved.symbol, q.symbol, moved.min_profit) == ("ETH", None, Decimal("0.005"))
    assert list(q.model_dump())[:3] == ["symbol", "long_dex", "short_dex"]


def test_a_huge_min_profit_is_a_400_not_an_overflow() -> None:
    # 1e999999 >= 0.1 looked like a percent; spelling it out (x 100) overflowed the Decimal context: a 500 before
    err = fails(p.OpportunityQuery, {"min_profit": "1e999999"})
    assert (err.status, err.parameter) == (400, "min_profit")


def test_common_requests_never_import_pydantic() -> None:
    """The cold start of a route Lambda: validating its usual requests needs no pydantic (issue 18)."""
    import subprocess
    import sys

    code = ("import sys\nfrom chalicelib.api import params as p\n"
            "p.parse_query(p.RatesQuery, {'basis': '1h', 'dex': 'lighter'})\n"
            "p.parse_query(p.OpportunityQuery, {'min_profit': '0.001', 'limit': '20', 'include_dexes': 'a,b'})\n"
            "p.parse_query(p.HistoryQuery, {'start_time': '2026-01-01T00:00:00Z', 'interval': 'raw'})\n"
            "p.parse_path(p.DexSymbolPath, dex='lighter', symbol='btc')\n"
            "print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
