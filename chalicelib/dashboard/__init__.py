"""The trader dashboard: one self-contained HTML page (index.html + style.css + app.js inlined).

No CDN, no build step: the three files ship in the package and are read on the first request
(never at import, so no Lambda's cold start pays for them), then kept for the container's life.
The page finds the API under its own URL (`<stage prefix>/api/v1`); the WebSocket URL is the
same origin's `/api/v1/ws` (local gateway) unless DASHBOARD_WS_URL names the WebSocket API
(on AWS it is a separate API: `wss://{ws-api-id}.execute-api.{region}.amazonaws.com/{stage}`).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CONFIG_SLOT = "/*FRS_CONFIG*/null"


@lru_cache(maxsize=1)
def _template() -> str:
    html = (HERE / "index.html").read_text(encoding="utf-8")
    css = (HERE / "style.css").read_text(encoding="utf-8")
    js = (HERE / "app.js").read_text(encoding="utf-8")
    # replace() with a function-free literal: the CSS/JS may contain anything but "</" sequences
    return html.replace("/*FRS_STYLE*/", css).replace("/*FRS_APP*/", js)


def config(environ: dict[str, str] | None = None) -> dict[str, str | None]:
    env = os.environ if environ is None else environ
    return {"ws_url": (env.get("DASHBOARD_WS_URL") or "").strip() or None}


def page(environ: dict[str, str] | None = None) -> str:
    """The page with its config inlined (`<` escaped so no value can close the script element)."""
    blob = json.dumps(config(environ)).replace("<", "\\u003c")
    return _template().replace(_CONFIG_SLOT, blob, 1)
