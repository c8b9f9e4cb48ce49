"""Venue registry: explicit, one line per DEX (a test checks every module here is registered).

`NAMES` lists the venue modules (module name = SPEC.id, checked by tests/unit/venues/test_contract.py);
`REGISTRY` / `BY_ID` import them on first use, so a Lambda that only needs the ids - the scheduled
blueprint registering one collector per venue inside the route Lambda's `import app` - never loads
the venue parsers (cold start, issue 18).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.venues.base import VenueSpec

NAMES: tuple[str, ...] = ("hyperliquid", "lighter", "paradex", "grvt", "edgex",
                          "aster", "extended", "backpack", "pacifica", "hip3")

REGISTRY: tuple[ModuleType, ...]     # the modules of NAMES, in order (imported on first use)
BY_ID: dict[str, ModuleType]


def _load() -> tuple[tuple[ModuleType, ...], dict[str, ModuleType]]:
    if "REGISTRY" not in globals():
        modules = tuple(importlib.import_module(f"{__name__}.{name}") for name in NAMES)
        globals()["BY_ID"] = {module.SPEC.id: module for module in modules}
        globals()["REGISTRY"] = modules
    return globals()["REGISTRY"], globals()["BY_ID"]


def __getattr__(name: str) -> Any:
    if name in ("REGISTRY", "BY_ID"):
        return _load()[name == "BY_ID"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_venue(dex: str) -> ModuleType:
    by_id = _load()[1]
    try:
        return by_id[dex]
    except KeyError:
        raise KeyError(f"unknown dex {dex!r}; registered: {', '.join(by_id)}") from None


def venue_spec(dex: str) -> VenueSpec | None:
    """The spec of any venue id: a registered module's SPEC, or a family member discovered at run time
    ("hyperliquid-xyz" -> the hip3 family's per-dex spec). None for an id no module accounts for."""
    registry, by_id = _load()
    if dex in by_id:   # a family's own id too: its collection logs and breaker are kept under it
        return by_id[dex].SPEC
    for module in registry:
        prefix = module.SPEC.family_prefix
        if prefix and dex.startswith(prefix) and dex[len(prefix):].isalnum():
            return module.venue_spec(module.SPEC, dex)
    return None


def collector_of(dex: str) -> str:
    """The registry id whose collector gathers venue `dex` (itself, or its family's)."""
    spec = venue_spec(dex)
    registry, by_id = _load()
    if spec is None or dex in by_id:
        return dex
    return next(m.SPEC.id for m in registry if m.SPEC.family_prefix and dex.startswith(m.SPEC.family_prefix))
