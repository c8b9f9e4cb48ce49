"""Venue registry: explicit, one line per DEX (a test checks every module here is registered)."""

from __future__ import annotations

from types import ModuleType

from chalicelib.venues import edgex, grvt, hyperliquid, lighter, paradex

REGISTRY: tuple[ModuleType, ...] = (hyperliquid, lighter, paradex, grvt, edgex)

BY_ID: dict[str, ModuleType] = {module.SPEC.id: module for module in REGISTRY}


def get_venue(dex: str) -> ModuleType:
    try:
        return BY_ID[dex]
    except KeyError:
        raise KeyError(f"unknown dex {dex!r}; registered: {', '.join(BY_ID)}") from None
