"""bench/measured.py: README rows replaced by id, other rows kept, new ids appended, the text around untouched."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("bench_measured", ROOT / "bench" / "measured.py")
assert spec is not None and spec.loader is not None
measured = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measured)

README = """# x

## Measured (2-core dev box)

| what | result | target |
|---|---|---|
| <!-- gateway-rates --> old gateway | 0.16x | >= 0.3x (not met) |
| hand-written row without an id | 1 s | - |
| <!-- parse --> old parse | 1.5x | >= 1.0x (met) |

## Next section
text
"""


def test_rows_with_a_matching_id_are_replaced_others_kept_new_ones_appended() -> None:
    rows = [{"id": "parse", "what": "parse", "result": "2.0x", "target": ">= 1.0x", "met": True},
            {"id": "fanout-1000", "what": "fan-out", "result": "p99 0.2 s", "target": "p99 < 1 s", "met": True},
            {"id": "gateway-rates", "what": "gateway", "result": "0.5x", "target": ">= 0.3x", "met": False}]
    out = measured.rewrite(README, rows).split("\n")
    table = [line for line in out if line.startswith("|")]
    assert table == [
        "| what | result | target |",
        "|---|---|---|",
        "| <!-- gateway-rates --> gateway | 0.5x | >= 0.3x (not met) |",
        "| hand-written row without an id | 1 s | - |",
        "| <!-- parse --> parse | 2.0x | >= 1.0x (met) |",
        "| <!-- fanout-1000 --> fan-out | p99 0.2 s | p99 < 1 s (met) |",
    ]
    assert out[:5] == README.split("\n")[:5] and out[-3:] == ["## Next section", "text", ""]


def test_a_row_without_a_target_says_nothing_about_met() -> None:
    row = {"id": "x", "what": "w", "result": "r", "target": "-", "met": None}
    assert measured.render(row) == "| <!-- x --> w | r | - |"
