"""`frs collect --once --json` against the real replay server: the new venues' recorded rows, checked by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.settings import reset_settings_cache
from chalicelib.transport import breaker as breaker_mod
from chalicelib.transport.budget import reset_buckets
from frs_local.replay import ReplayServer

NEW = {"aster", "extended", "backpack", "pacifica", "hip3"}


@pytest.fixture
def records(monkeypatch, capsys):
    for name in ("DATABASE_URL", "REDIS_URL", "ENABLED_DEXES", "USE_REDIS"):
        monkeypatch.delenv(name, raising=False)
    with ReplayServer(port=0, seed=5) as server:
        for key, value in server.base_urls().items():
            monkeypatch.setenv(key, value)
        reset_buckets()
        breaker_mod.reset_memory()
        reset_settings_cache()
        wiring.reset()
        argv = ["collect", "--once", "--json", *[a for d in sorted(NEW) for a in ("--dex", d)]]
        rc = main(argv)
        out, err = capsys.readouterr()
    reset_settings_cache()
    wiring.reset()
    assert rc == 0 and "FAILED" not in err, err
    return {(r["dex_name"], r["dex_symbol"]): r for r in map(json.loads, out.splitlines())}, err


def pick(row, *fields):
    return tuple(row[f] for f in fields)


F = ("rate_1h", "funding_interval_hours", "mark_price", "open_interest_usd", "volume_24h_usd")


def test_every_new_venue_lands_with_100_markets(records):
    rows, err = records
    per_dex = {d: sum(1 for dex, _ in rows if dex == d) for d in {dex for dex, _ in rows}}
    assert set(per_dex) == {"aster", "extended", "backpack", "pacifica", "hyperliquid-xyz"}
    assert all(n >= 100 for n in per_dex.values()), per_dex
    # hip3 collects the whole family in one run; flx's two multiplier-0 markets are rejected, not stored as 0
    assert "hip3" in err and "2 rejected" in err.split("hip3", 1)[1].splitlines()[0]


def test_aster_btc_eth_and_a_1h_market(records):
    rows, _ = records
    # BTCUSDT 8 h: 0.00003274 / 8 = 0.0000040925 /h; OI 10659.509 x 77852.06061232 = 829,864,740.77 USD
    assert pick(rows["aster", "BTCUSDT"], *F) == (0.0000040925, 8, 77852.06061232, 829864740.7655705, 1059790811.37)
    # ETHUSDT 8 h: 0.00009770 / 8 = 0.0000122125 /h (OI is replay-generated: no recorded Aster ETH OI)
    assert pick(rows["aster", "ETHUSDT"], *F[:3], F[4]) == (0.0000122125, 8, 2576.57302325, 914660373.81)
    # SUSHIUSDT runs on a 1 h interval: -0.00000112 per hour as published
    assert pick(rows["aster", "SUSHIUSDT"], *F) == (-0.00000112, 1, 0.2166511, None, 12455.67)


def test_extended_btc_eth_1000pepe(records):
    rows, _ = records
    # 0.000013 /h (6-dp rounding of 0.0000125); OI 579.77510 BTC x 77060.427881750001 = 44,677,717.28 USD
    assert pick(rows["extended", "BTC-USD"], *F) == (0.000013, 1, 77060.42788175, 44677717.2811844, 72466662.2649)
    # ETH: 12042.155 x 2497.85795765 = 30,079,592.69 USD
    assert pick(rows["extended", "ETH-USD"], *F) == (0.000013, 1, 2497.85795765, 30079592.694004737, 40920283.1852)
    # 1000PEPE: 0.003396223971 per 1000 -> 0.000003396223971 per PEPE; OI 104530900 x 0.003396223971 = 355,010.35
    pepe = rows["extended", "1000PEPE-USD"]
    assert (pepe["symbol"], pepe["multiplier"], pepe["mark_price"], pepe["open_interest_usd"]) == (
        "PEPE", 1000, 0.000003396223971, 355010.3482902039)


def test_backpack_btc_eth_kpepe(records):
    rows, _ = records
    # OI 412.67346 x 76746.5 = 31,671,243.69789 USD; hourly rate as published (fundingInterval 3,600,000 ms)
    assert pick(rows["backpack", "BTC_USDC_PERP"], *F) == (
        7.94596527771205e-07, 1, 76746.5, 31671243.69789, 126024537.212937)
    # 4989.6586 x 2477.92 = 12,363,974.838112
    assert pick(rows["backpack", "ETH_USDC_PERP"], *F) == (
        1.2066506720822092e-05, 1, 2477.92, 12363974.838112, 8280596.044234)
    # kPEPE 0.0033465 per 1000 -> 0.0000033465; OI 17,219,200 x 0.0033465 = 57,624.0528
    assert pick(rows["backpack", "kPEPE_USDC_PERP"], *F) == (0.0000125, 1, 0.0000033465, 57624.0528, 45777.58805)


def test_pacifica_btc_eth_kbonk(records):
    rows, _ = records
    # open_interest is BASE units: 412.34157 x 76922.3 = 31,718,261.950011 USD
    assert pick(rows["pacifica", "BTC"], *F) == (0.00000475, 1, 76922.3, 31718261.950011, 158617298.66148)
    # 10189.2168 x 2489.5 = 25,366,055.2236
    assert pick(rows["pacifica", "ETH"], *F) == (0.00001202, 1, 2489.5, 25366055.2236, 107294496.60556)
    # kBONK: 0.002715 / 1000 per BONK; 34,788,040 x 0.002715 = 94,449.5286
    assert pick(rows["pacifica", "kBONK"], *F) == (-0.00000345, 1, 0.000002715, 94449.5286, 122425.420904)


def test_hip3_xyz_markets(records):
    rows, _ = records
    # multiplier 0.5 x 0.0000125 = 0.00000625 /h; OI 8837.92 x 29432 = 260,117,661.44
    assert pick(rows["hyperliquid-xyz", "xyz:XYZ100"], *F) == (
        0.00000625, 1, 29432, 260117661.44, 274087289.43940026)
    # 253476.492 x 333.93 = 84,643,404.97356
    assert pick(rows["hyperliquid-xyz", "xyz:AAPL"], *F) == (
        -0.0000178177, 1, 333.93, 84643404.97356, 30905658.56942001)
    assert not [k for k in rows if k[0] == "hyperliquid-flx"]          # funding disabled: never a neutral 0


def test_backpack_history_from_the_replay_server_straddles_the_switch():
    import httpx

    from chalicelib.venues import backpack

    with ReplayServer(port=0, seed=5) as server:
        req = backpack.history_requests(backpack.SPEC, "BTC_USDC_PERP", 1755000000000, 1789400000000, None)
        payload = httpx.get(server.base_url("backpack") + req.path, params=req.params).json()
    points, _ = backpack.parse_history(backpack.SPEC, payload, dex_symbol="BTC_USDC_PERP")
    by_time = {p.time_ms: p for p in points}
    # 2026-09-13T23:00Z still accrues (dropped); 22:00Z is the newest settled hourly row
    assert 1789340400000 not in by_time and by_time[1789336800000].funding_interval_hours == 1
    # up to 2025-08-20T08:00Z (1755676800000) the rows are 8 h rates, after it 1 h; per hour both are 0.0000125
    early = [by_time[t] for t in sorted(by_time)[:6]]
    assert [(p.time_ms, p.funding_interval_hours, p.funding_rate / p.funding_interval_hours) for p in early] == [
        (1755619200000, 8, Decimal("0.0000125")), (1755648000000, 8, Decimal("0.0000125")),
        (1755676800000, 8, Decimal("0.0000125")), (1755680400000, 1, Decimal("0.0000125")),
        (1755684000000, 1, Decimal("0.0000125")), (1755687600000, 1, Decimal("0.0000125"))]
