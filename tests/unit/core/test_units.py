"""core.units: the one definition of rate_1h, rate_8h, APR, basis conversion and staleness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.core import units
from tests.unit.core.helpers import snap

D = Decimal


def test_rates_by_hand() -> None:
    # 0.0003 per 4 h: per hour 0.0003 / 4 = 0.000075; per 8 h 0.000075 * 8 = 0.0006; APR 0.000075 * 876000 = 65.7 %
    assert units.rate_1h(D("0.0003"), D(4)) == D("0.000075")
    assert units.rate_8h(D("0.0003"), D(4)) == D("0.0006")
    assert units.apr_from_1h(D("0.000075")) == D("65.7")
    assert units.apr_from_8h(D("0.0006")) == D("65.7")          # 0.0006 * 365 * 3 * 100


@pytest.mark.parametrize(("basis", "value"), [("native", D("0.0003")), ("1h", D("0.000075")),
                                              ("8h", D("0.0006")), ("apr", D("65.7"))])
def test_in_basis_and_from_8h_are_inverse_views(basis: str, value: D) -> None:
    assert units.in_basis(D("0.0003"), D(4), basis) == value
    assert units.from_8h(D("0.0006"), basis, D(4)) == value
    assert snap("x", "0.0003", 4).rate_in(basis) == value


def test_unknown_basis_is_an_error() -> None:
    with pytest.raises(ValueError, match="basis"):
        units.in_basis(D(1), D(1), "4h")


def test_stale_after_three_collection_intervals() -> None:
    # 60 s interval: stale beyond 3 * 60 s = 180 000 ms; exactly at the limit is still fresh
    assert units.stale_after_ms(60) == 180_000
    assert not units.is_stale(180_000, 60) and units.is_stale(180_001, 60)
    assert not units.is_stale(None, 60)      # no data at all is reported as "no data", not "stale"


def test_snapshot_properties_use_units() -> None:
    s = snap("x", "0.00002", 1)
    assert (s.rate_1h, s.rate_8h, s.annualized_rate) == (D("0.00002"), D("0.00016"), D("17.52"))
