"""core/unit_check.py: a venue off by x8 / x100 / x1/24 / a flipped sign is suspect with that factor."""

from __future__ import annotations

from decimal import Decimal as D

from chalicelib.core.models import MarketSnapshot
from chalicelib.core.unit_check import check, majors


def snap(dex: str, symbol: str, rate_1h: str, oi: float | None = 1e6, interval: int = 8) -> MarketSnapshot:
    # stored as the venue would: rate per interval = rate_1h * interval
    return MarketSnapshot(dex=dex, symbol=symbol, dex_symbol=symbol, funding_rate=D(rate_1h) * interval,
                          funding_interval_hours=D(interval), mark_price=D(1), fetched_at_ms=0,
                          open_interest_usd=None if oi is None else D(oi))


def venue(dex: str, btc: str, eth: str, sol: str, scale: str = "1") -> list[MarketSnapshot]:
    return [snap(dex, s, str(D(r) * D(scale))) for s, r in (("BTC", btc), ("ETH", eth), ("SOL", sol))]


LIGHTER = ("0.000012", "0.000013", "0.0000125")   # median 0.0000125
GRVT = ("0.000010", "0.000011", "0.000012")        # median 0.000011
EDGEX = ("0.000014", "0.000015", "0.000013")       # median 0.000014


def test_x8_and_x100_venues_are_suspect_with_their_factor() -> None:
    snaps = [*venue("lighter", *LIGHTER), *venue("grvt", *GRVT), *venue("edgex", *EDGEX),
             *venue("hyperliquid", *LIGHTER, scale="8"), *venue("paradex", *GRVT, scale="100")]
    v = check(snaps)
    # reference venues: {lighter, grvt, edgex} (pairwise within 2.5x); per symbol (x 1e-6) their medians are
    # BTC median(12, 10, 14) = 12, ETH median(13, 11, 15) = 13, SOL median(12.5, 12, 13) = 12.5
    # hyperliquid: 96/12, 104/13, 100/12.5 = 8, 8, 8 -> 8
    assert (v["hyperliquid"].status, v["hyperliquid"].factor, v["hyperliquid"].ratio) == ("suspect", 8, D("8"))
    # paradex: 1000/12 = 83.33, 1100/13 = 84.62, 1200/12.5 = 96 -> median 84.62, within [100/1.5, 150]
    assert (v["paradex"].status, v["paradex"].factor, v["paradex"].ratio) == ("suspect", 100, D("84.62"))
    assert v["paradex"].median_rate_1h == D("0.0011")           # median(1000, 1100, 1200) x 1e-6 per hour
    # grvt vs median(lighter, edgex): 10/13, 11/14, 12/12.75 = 0.769, 0.7857, 0.941 -> 0.7857
    # edgex vs median(lighter, grvt): 14/11, 15/12, 13/12.25 = 1.273, 1.25, 1.061 -> 1.25
    assert [(v[d].status, v[d].ratio) for d in ("lighter", "grvt", "edgex")] == [
        ("ok", D("1")), ("ok", D("0.7857")), ("ok", D("1.25"))]
    # reference level: median of the agreeing venues' medians 12.5, 11, 14 (x 1e-6 per hour)
    assert v["lighter"].reference_rate_1h == D("0.0000125")


def test_a_plain_median_of_the_others_would_be_fooled_the_agreeing_group_is_not() -> None:
    # 4 venues at levels 1, 1, 8, 100 (x 0.0000125): for a good venue the others' median is (1 + 8) / 2 = 4.5
    snaps = [*venue("a", *LIGHTER), *venue("b", *LIGHTER), *venue("c", *LIGHTER, scale="8"),
             *venue("d", *LIGHTER, scale="100")]
    v = check(snaps)
    assert [v[d].status for d in "abcd"] == ["ok", "ok", "suspect", "suspect"]
    assert (v["c"].factor, v["d"].factor) == (8, 100)


def test_flipped_sign_and_a_24th() -> None:
    snaps = [*venue("lighter", *LIGHTER), *venue("grvt", *GRVT), *venue("edgex", *EDGEX),
             *venue("hyperliquid", *LIGHTER, scale="-1"), *venue("paradex", *LIGHTER, scale="0.0416666667")]
    v = check(snaps)
    # hyperliquid: -0.0000125 / 0.0000125 = -1
    assert (v["hyperliquid"].status, v["hyperliquid"].factor, v["hyperliquid"].ratio) == ("suspect", -1, D("-1"))
    # paradex: LIGHTER / 24 on every symbol -> ratio 1/24 = 0.04167 (its own rates are far below MIN_LEVEL_1H;
    # only the reference's must be above it)
    assert (v["paradex"].status, v["paradex"].factor, v["paradex"].ratio) == ("suspect", D("0.04167"), D("0.04167"))


def test_majors_at_zero_or_around_zero_are_not_suspect() -> None:
    base = [*venue("lighter", *LIGHTER), *venue("grvt", *GRVT), *venue("edgex", *EDGEX)]
    zero = venue("hyperliquid", "0", "0", "0")
    # around zero: ratios to 12, 13, 12.5 (x 1e-6) are 0.333, -0.231, -0.008 -> median -0.008, near -1/100,
    # but only 2 of 3 ratios are negative (< 3/4): signs disagree, not a unit error
    noise = venue("paradex", "0.000004", "-0.000003", "-0.0000001")
    v = check([*base, *zero, *noise])
    assert (v["hyperliquid"].status, v["hyperliquid"].factor) == ("ok", None)      # ratio 0: no band
    assert (v["paradex"].status, v["paradex"].reason.endswith("majors around zero (signs disagree)")) == ("ok", True)


def test_too_few_venues_or_markets_is_unknown() -> None:
    two = check([*venue("lighter", *LIGHTER), *venue("hyperliquid", *LIGHTER, scale="8")])
    assert {d: x.status for d, x in two.items()} == {"hyperliquid": "unknown", "lighter": "unknown"}
    thin = check([*venue("lighter", *LIGHTER), *venue("grvt", *GRVT), *venue("edgex", *EDGEX),
                  snap("paradex", "BTC", "0.001"), snap("paradex", "ETH", "0.001")])
    assert thin["paradex"].status == "unknown" and thin["paradex"].majors == 2
    tie = check([*venue("a", *LIGHTER), *venue("b", *LIGHTER), *venue("c", *LIGHTER, scale="8"),
                 *venue("d", *LIGHTER, scale="8")])
    assert {x.status for x in tie.values()} == {"unknown"}                          # 2 vs 2: no reference


def test_majors_are_core_three_plus_top_seven_by_oi() -> None:
    snaps = [snap("x", "BTC", "0", oi=5), snap("x", "ETH", "0", oi=None)]
    snaps += [snap("x", f"A{i:02d}", "0", oi=1000 - i) for i in range(10)]
    snaps += [snap("x", "NOOI", "0", oi=None)]
    assert [s.symbol for s in majors(snaps)] == ["BTC", "ETH", "A00", "A01", "A02", "A03", "A04", "A05", "A06"]
