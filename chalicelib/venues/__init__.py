"""Venue registry: explicit, one line per DEX (a test checks every module here is registered)."""

from __future__ import annotations

from types import ModuleType

from chalicelib.venues import (
    aster,
    backpack,
    edgex,
    extended,
    grvt,
    hip3,
    hyperliquid,
    lighter,
    pacifica,
    paradex,
)
from chalicelib.venues.base import VenueSpec

REGISTRY: tuple[ModuleType, ...] = (hyperliquid, lighter, paradex, grvt, edgex,
                                     aster, extended, backpack, pacifica, hip3)

BY_ID: dict[str, ModuleType] = {module.SPEC.id: module for module in REGISTRY}


def get_venue(dex: str) -> ModuleType:
    try:
        return BY_ID[dex]
    except KeyError:
        raise KeyError(f"unknown dex {dex!r}; registered: {', '.join(BY_ID)}") from None


def venue_spec(dex: str) -> VenueSpec | None:
    """The spec of any venue id: a registered module's SPEC, or a family member discovered at run time
    ("hyperliquid-xyz" -> the hip3 family's per-dex spec). None for an id no module accounts for."""
    if dex in BY_ID:   # a family's own id too: its collection logs and breaker are kept under it
        return BY_ID[dex].SPEC
    for module in REGISTRY:
        prefix = module.SPEC.family_prefix
        if prefix and dex.startswith(prefix) and dex[len(prefix):].isalnum():
            return module.venue_spec(module.SPEC, dex)
    return None


def collector_of(dex: str) -> str:
    """The registry id whose collector gathers venue `dex` (itself, or its family's)."""
    spec = venue_spec(dex)
    if spec is None or dex in BY_ID:
        return dex
    return next(m.SPEC.id for m in REGISTRY if m.SPEC.family_prefix and dex.startswith(m.SPEC.family_prefix))
