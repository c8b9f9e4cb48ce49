"""Venue parse per market: ours (full Decimal MarketSnapshot) vs ccxt's parse of the same recorded payload, same run.

For each of the five core venues the recorded payload (tests/fixtures/venues/<dex>/, 2026-09 recordings) is
widened to --markets markets by copying its rows under new names/ids, then timed:
  ours : venue.parse(spec, payloads)  - every field to Decimal, validation, rate normalization, MarketSnapshot
  ccxt : the exchange class's own per-market parse of the same rows, floats (ccxt 4.5.90, dev extra only):
         hyperliquid  extend(universe[i], assetCtxs[i]) + parse_funding_rate   (what fetch_funding_rates runs)
         lighter      parse_funding_rate over /funding-rates' lighter rows (fetch_funding_rates) + parse_ticker over
                      /orderBookDetails rows (fetch_tickers): ccxt's funding rate carries no mark/index/OI/volume,
                      its ticker parse of the same orderBookDetails payload does
         paradex      parse_funding_rate over /markets/summary rows             (what fetch_funding_rates runs)
         grvt         parse_ticker over /full/v1/ticker results (ccxt's GRVT has no funding-rate parser;
                      its ticker is where the rate is)
         edgex        ccxt has NO EdgeX exchange: the reference builds ccxt's FundingRate structure the way its
                      paradex.py parse_funding_rate does, with ccxt's own helpers (safe_market, safe_number,
                      iso8601), over the same getLatestFundingRate + getTicker rows
  Both sides start from the response BYTES: ours decodes as transport does (json.loads, parse_float=Decimal; payloads
  transport caches - Paradex /v1/markets - are decoded once, outside the timing; `reuse_unchanged` ones - EdgeX
  getMetaData, GRVT all_instruments - cost the byte comparison with the previous answer, as in a cycle where the
  venue's metadata did not change), ccxt with json.loads, and only the responses its parse reads (it keeps markets
  from load_markets). ccxt runs with empty markets (no lookups of loaded
  markets: it does LESS work than in real use).
Prints per-market microseconds (median of --runs), ratio ccxt/ours (>= 1.0: ours at least as fast) and load average.

    python bench/venues_parse.py [--markets 300] [--runs 25]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _measured import emit
from _measured import load as load_avg

FIX = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "venues"
NOW_MS = 1_789_150_000_000
Built = tuple[dict[str, Any], Callable[[Any], Any], int, list[str]]   # payloads, ccxt parse, markets, keys ccxt decodes


def load(dex: str, name: str) -> Any:
    return json.loads((FIX / dex / name).read_text())


def widen(rows: list[dict[str, Any]], n: int, rename: Callable[[dict[str, Any], int], None]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        row = copy.deepcopy(rows[i % len(rows)])
        rename(row, i)
        out.append(row)
    return out


def hyperliquid(n: int) -> Built:
    meta, ctxs = load("hyperliquid", "metaAndAssetCtxs.2026-09-11.json")
    live = [(u, c) for u, c in zip(meta["universe"], ctxs, strict=True) if not u.get("isDelisted")]
    pairs = [(dict(u, name=f"{u['name']}{i}"), dict(c)) for i in range(n) for u, c in [live[i % len(live)]]]
    payload = [dict(meta, universe=[u for u, _ in pairs]), [c for _, c in pairs]]
    import ccxt

    ex = ccxt.hyperliquid()
    ex.set_markets([])

    def ref(p: Any) -> Any:
        return [ex.parse_funding_rate(ex.extend(u, c)) for u, c in zip(p[0]["universe"], p[1], strict=True)]

    return {"metaAndAssetCtxs": payload}, lambda p: ref(p["metaAndAssetCtxs"]), n, ["metaAndAssetCtxs"]


def lighter(n: int) -> Built:
    books = load("lighter", "orderBookDetails.2026-09-11.json")
    rates = load("lighter", "funding-rates.2026-09-11.json")
    mine = [r for r in rates["funding_rates"] if r["exchange"] == "lighter"]
    others = [r for r in rates["funding_rates"] if r["exchange"] != "lighter"]
    live = [b for b in books["order_book_details"] if b.get("status") == "active"]
    details = widen(live, n, lambda r, i: r.update(symbol=f"{r['symbol']}{i}", market_id=1000 + i))
    funding = widen(mine, n, lambda r, i: r.update(symbol=f"{r['symbol']}{i}", market_id=1000 + i)) + others
    import ccxt

    ex = ccxt.lighter()
    ex.set_markets([])
    payloads = {"orderBookDetails": {"order_book_details": details}, "funding-rates": {"funding_rates": funding}}
    def ref(p: dict[str, Any]) -> list[Any]:
        rates = [ex.parse_funding_rate(r) for r in p["funding-rates"]["funding_rates"]
                 if ex.safe_string(r, "exchange") == "lighter"]
        tickers = [ex.parse_ticker(t) for t in p["orderBookDetails"]["order_book_details"]]
        return list(zip(rates, tickers, strict=True))

    return payloads, ref, n, ["funding-rates", "orderBookDetails"]


def paradex(n: int) -> Built:
    markets = [m for m in load("paradex", "markets.2026-09-11.json")["results"] if m["asset_kind"] == "PERP"]
    summary = load("paradex", "markets_summary.ALL.2026-09-11.json")["results"]
    perp = [s for s in summary if s["symbol"].endswith("-PERP")]
    def name(r: dict[str, Any], i: int) -> None:
        r["symbol"] = r["symbol"].replace("-USD-PERP", f"{i}-USD-PERP")
    static = widen(markets, n, lambda r, i: (name(r, i), r.update(base_currency=f"{r['base_currency']}{i}")))
    rows = widen(perp, n, name)
    import ccxt

    ex = ccxt.paradex()
    ex.set_markets([])
    payloads = {"markets": {"results": static}, "summary": {"results": rows}}
    return payloads, lambda p: [ex.parse_funding_rate(r) for r in p["summary"]["results"]], n, ["summary"]


def grvt(n: int) -> Built:
    inst = [i for i in load("grvt", "all_instruments.2026-09-13.json")["result"] if i["kind"] == "PERPETUAL"]
    ticks = {"BTC_USDT_Perp": load("grvt", "ticker.BTC_USDT_Perp.2026-09-13.json"),
             "ENA_USDT_Perp": load("grvt", "ticker.ENA_USDT_Perp.2026-09-13.json")}
    inst = [i for i in inst if i["instrument"] in ticks]
    wide = widen(inst, n, lambda r, i: r.update(instrument=r["instrument"].replace("_USDT", f"{i}_USDT"),
                                                base=f"{r['base']}{i}", _src=r["instrument"]))
    payloads: dict[str, Any] = {"all_instruments": {"result": wide}}
    for r in wide:
        body = copy.deepcopy(ticks[r.pop("_src")])
        body["result"]["instrument"] = r["instrument"]
        payloads[f"ticker:{r['instrument']}"] = body
    import ccxt

    ex = ccxt.grvt()
    ex.set_markets([])
    tickers = [k for k in payloads if k.startswith("ticker:")]
    return payloads, lambda p: [ex.parse_ticker(p[k]["result"]) for k in tickers], n, tickers


def edgex(n: int) -> Built:
    meta = load("edgex", "getMetaData.v2.2026-09-13.json")
    funding = load("edgex", "getLatestFundingRate.v2.2026-09-13.json")
    ticker = load("edgex", "getTicker.30000001.v2.2026-09-13.json")
    contracts = [c for c in meta["data"]["contractList"] if c.get("enableDisplay") is not False]
    by_id = {r["contractId"]: r for r in funding["data"]}
    contracts = [c for c in contracts if c["contractId"] in by_id]
    wide = widen(contracts, n, lambda r, i: r.update(contractId=str(40_000_000 + i), _src=r["contractId"],
                                                     contractName=f"X{i}{r['contractName']}"))
    rates, payloads = [], {}
    for c in wide:
        row = dict(by_id[c.pop("_src")], contractId=c["contractId"])
        rates.append(row)
        payloads[f"getTicker:{c['contractId']}"] = {"code": "SUCCESS", "data": [dict(ticker["data"][0], contractId=c["contractId"])]}
    payloads["getMetaData"] = {"code": "SUCCESS", "data": dict(meta["data"], contractList=wide)}
    payloads["getLatestFundingRate"] = {"code": "SUCCESS", "data": rates}
    import ccxt

    ex = ccxt.Exchange()
    ex.set_markets([])

    def ref(p: dict[str, Any]) -> list[dict[str, Any]]:
        """ccxt's FundingRate structure as its parse_funding_rate builds it for a sibling venue (paradex.py: safe_market,
        safe_integer + iso8601 timestamps, safe_number fields, interval string), over the rows ours reads: the
        getLatestFundingRate row + that contract's getTicker row (open interest, volume)."""
        out = []
        for f in p["getLatestFundingRate"]["data"]:
            t = ex.safe_dict(ex.safe_list(p[f"getTicker:{f['contractId']}"], "data", []), 0, {})
            market = ex.safe_market(ex.safe_string(f, "contractId"), None, None, "swap")
            timestamp, settled = ex.safe_integer(f, "fundingTimestamp"), ex.safe_integer(f, "fundingTime")
            minutes = ex.safe_string(f, "fundingRateIntervalMin")
            out.append({"info": f, "symbol": market["symbol"], "markPrice": ex.safe_number(f, "markPrice"),
                        "indexPrice": ex.safe_number(f, "indexPrice"), "interestRate": None, "estimatedSettlePrice": None,
                        "timestamp": timestamp, "datetime": ex.iso8601(timestamp),
                        "fundingRate": ex.safe_number(f, "forecastFundingRate"), "fundingTimestamp": settled,
                        "fundingDatetime": ex.iso8601(settled), "nextFundingRate": None, "nextFundingTimestamp": None,
                        "nextFundingDatetime": None, "previousFundingRate": None, "previousFundingTimestamp": None,
                        "previousFundingDatetime": None, "interval": None if minutes is None else minutes + "m",
                        "openInterest": ex.safe_number(t, "openInterest"), "quoteVolume": ex.safe_number(t, "value")})
        return out

    return payloads, ref, n, [k for k in payloads if k != "getMetaData"]


def interleaved(ours: Callable[[], Any], theirs: Callable[[], Any], runs: int, per: int) -> tuple[float, float]:
    """Median per-market microseconds of each, the two alternating run by run (a shared box's load hits both)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        for fn, out in ((ours, a), (theirs, b)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(a) / per * 1e6, statistics.median(b) / per * 1e6


def main() -> None:
    from chalicelib.venues import get_venue

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=300)
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--profile", metavar="DEX", help="cProfile our parse of DEX instead (top 15 by own time)")
    args = ap.parse_args()
    builders = {"hyperliquid": hyperliquid, "lighter": lighter, "paradex": paradex, "grvt": grvt, "edgex": edgex}
    if args.profile:
        import cProfile
        import pstats

        venue = get_venue(args.profile)
        payloads = json.loads(json.dumps(builders[args.profile](args.markets)[0]), parse_float=Decimal)
        cProfile.runctx("for _ in range(20): venue.parse(venue.SPEC, payloads, now_ms=NOW_MS)", globals(), locals(), "/tmp/vp.prof")
        pstats.Stats("/tmp/vp.prof").sort_stats("tottime").print_stats(15)
        return
    print(f"venue parse per market, {args.markets} markets, median of {args.runs} (cpus {os.cpu_count()}, "
          f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print(f"{'venue':12} {'ours us':>9} {'ccxt us':>9} {'ccxt/ours':>10}  ours produces")
    ratios: dict[str, float] = {}
    for dex, build in builders.items():
        venue = get_venue(dex)
        payloads, ref, n, ref_keys = build(args.markets)
        bodies = {k: json.dumps(v).encode() for k, v in payloads.items()}
        first = venue.requests(venue.SPEC)
        cached = {r.key for r in first if r.cache_seconds > 0}
        unchanged = {r.key for r in first if r.reuse_unchanged} & set(bodies)
        kept = {k: json.loads(bodies[k], parse_float=Decimal) for k in (cached | unchanged) & set(bodies)}
        last = {k: bytes(bytearray(bodies[k])) for k in unchanged}   # the previous cycle's bytes (another object)
        fresh = [k for k in bodies if k not in cached and k not in unchanged]

        def ours() -> Any:
            decoded = {k: json.loads(bodies[k], parse_float=Decimal) for k in fresh}   # noqa: B023
            assert all(bodies[k] == last[k] for k in unchanged)                         # noqa: B023 (transport's check)
            return venue.parse(venue.SPEC, kept | decoded, now_ms=NOW_MS)              # noqa: B023

        def theirs() -> Any:
            return ref({k: json.loads(bodies[k]) for k in ref_keys})                    # noqa: B023

        result = ours()
        assert len(result.snapshots) == n, (dex, len(result.snapshots), result.rejects[:3])
        assert len(theirs()) == n
        ours_us, theirs_us = interleaved(ours, theirs, args.runs, n)
        print(f"{dex:12} {ours_us:9.2f} {theirs_us:9.2f} {theirs_us / ours_us:9.2f}x  {n} Decimal snapshots")
        ratios[dex] = theirs_us / ours_us
    print(f"load after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    emit("parse", f"`bench/venues_parse.py`: venue parse per market from the response bytes (ours: full Decimal "
         f"snapshot) vs ccxt's parse of the same recorded payload, {args.markets} markets, interleaved (EdgeX: ccxt "
         "has none; a ccxt-style FundingRate parse with its helpers)",
         "ccxt/ours = " + ", ".join(f"{d} **{r:.2f}x**" for d, r in ratios.items()) + f" ({load_avg()})",
         ">= 1.0x each", min(ratios.values()) >= 1.0)


if __name__ == "__main__":
    main()
