"""chalicelib.dashboard: the page is assembled from its three files on first use, with its config inlined."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from chalicelib import dashboard

ROOT = Path(__file__).resolve().parents[3]


def test_page_inlines_style_script_and_config() -> None:
    html = dashboard.page({})
    assert "/*FRS_" not in html                       # style, app and config slots all filled
    css = (dashboard.HERE / "style.css").read_text()
    js = (dashboard.HERE / "app.js").read_text()
    assert css in html and js in html
    assert "window.FRS_CONFIG = {\"ws_url\": null};" in html
    assert len(html.encode()) < 150 * 1024           # issue 16: page weight under 150 KB
    assert "</script" not in js and "</style" not in css   # inlined text must not close its own element


def test_ws_url_comes_from_the_environment_and_cannot_break_out_of_the_script() -> None:
    html = dashboard.page({"DASHBOARD_WS_URL": "wss://abc.execute-api.eu-west-1.amazonaws.com/prod"})
    assert 'window.FRS_CONFIG = {"ws_url": "wss://abc.execute-api.eu-west-1.amazonaws.com/prod"};' in html
    hostile = dashboard.page({"DASHBOARD_WS_URL": "</script><script>alert(1)</script>"})
    blob = re.search(r"window\.FRS_CONFIG = (.*?);</script>", hostile).group(1)
    assert "<" not in blob and json.loads(blob) == {"ws_url": "</script><script>alert(1)</script>"}
    assert dashboard.config({"DASHBOARD_WS_URL": "  "}) == {"ws_url": None}


def test_no_external_resources() -> None:
    html = dashboard.page({})
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html


def test_importing_the_app_neither_imports_nor_reads_the_page() -> None:
    # cold start: the route imports chalicelib.dashboard on its first request only
    code = "import sys, app; print('chalicelib.dashboard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
